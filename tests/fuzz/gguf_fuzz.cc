// libFuzzer target: arbitrary bytes as a .gguf model. Parses the header, metadata and tensor
// infos, reads the config, validates and views every weight, and dequantises the first row
// of each tensor, so every offset the reader accepts is also dereferenced.
// Build: cmake -DTC_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ; run: ./gguf_fuzz -max_total_time=60
#include <vector>

#include "fuzz_common.h"
#include "io/gguf.h"
#include "io/model_source.h"
#include "model/model.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = fuzz_scratch_path("model.gguf");
  fuzz_write_file(path, data, size);
  try {
    tc::GgufFile gguf(path);
    std::vector<float> row;
    for (const auto& info : gguf.tensors()) {
      if (!info.dtype) continue;
      tc::TensorView t = gguf.tensor(info.name);
      row.resize(size_t(t.cols()));
      if (t.nbytes >= t.row_bytes()) tc::dequantize_row(t.dtype, t.data, row.data(), t.cols());
    }
    for (const auto& [key, value] : gguf.metadata()) (void)value.to_string();
    auto source = tc::ModelSource::open(path);
    tc::ModelConfig config = tc::model_config_from_source(*source);
    // Bound the work a fuzzed config can ask for before touching weights.
    if (int64_t(config.n_layers) * config.hidden > (int64_t(1) << 24)) return 0;
    tc::ModelWeights weights = tc::load_model_weights(*source, config);
    (void)tc::rope_inv_freq(config);
  } catch (const tc::Error&) {
  }
  return 0;
}
