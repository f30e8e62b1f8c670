// libFuzzer target: arbitrary bytes as model.safetensors in an HF folder whose config.json
// describes a tiny Llama. Parses the header, checks offsets, maps names, validates shapes and
// dequantises the first row of every tensor it accepts.
// Build: cmake -DTC_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ; run: ./safetensors_fuzz -max_total_time=60
#include <sys/stat.h>

#include <vector>

#include "fuzz_common.h"
#include "io/model_source.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "util/error.h"

namespace {
const char kConfig[] =
    R"({"model_type": "llama", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
        "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 16, "max_position_embeddings": 32,
        "tie_word_embeddings": true})";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string folder = [] {
    std::string f = fuzz_scratch_path("hf");
    mkdir(f.c_str(), 0755);
    fuzz_write_file(f + "/config.json", reinterpret_cast<const uint8_t*>(kConfig), sizeof(kConfig) - 1);
    return f;
  }();
  fuzz_write_file(folder + "/model.safetensors", data, size);
  try {
    tc::SafetensorsFile file(folder + "/model.safetensors");
    std::vector<float> row;
    for (const auto& name : file.names()) {
      try {
        tc::TensorView t = file.tensor(name);
        if (t.numel() == 0 || t.dtype == tc::DType::I32) continue;
        row.resize(size_t(t.cols()));
        tc::dequantize_row(t.dtype, t.data, row.data(), t.cols());
      } catch (const tc::Error&) {
      }
    }
    auto source = tc::ModelSource::open(folder);
    tc::ModelConfig config = tc::model_config_from_source(*source);
    tc::ModelWeights weights = tc::load_model_weights(*source, config);
  } catch (const tc::Error&) {
  }
  return 0;
}
