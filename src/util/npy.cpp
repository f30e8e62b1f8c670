#include "util/npy.h"

#include <cstdio>
#include <cstring>
#include <memory>

#include "util/error.h"
#include "util/mapped_file.h"

namespace tc {

namespace {
void npy_write(const std::string& path, const void* data, size_t elem_size, const char* descr,
               const std::vector<int64_t>& shape) {
  std::string dims;
  int64_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    dims += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dims += ",";
    if (i + 1 < shape.size()) dims += " ";
    count *= shape[i];
  }
  std::string header = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) TC_THROW("cannot write %s", path.c_str());
  const char magic[] = "\x93NUMPY\x01\x00";
  std::fwrite(magic, 1, 8, f.get());
  uint16_t hlen = uint16_t(header.size());
  std::fwrite(&hlen, 2, 1, f.get());
  std::fwrite(header.data(), 1, header.size(), f.get());
  if (count > 0 && std::fwrite(data, elem_size, size_t(count), f.get()) != size_t(count))
    TC_THROW("short write to %s", path.c_str());
}
}  // namespace

void npy_write_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  npy_write(path, data, 4, "<f4", shape);
}
void npy_write_i32(const std::string& path, const int32_t* data, const std::vector<int64_t>& shape) {
  npy_write(path, data, 4, "<i4", shape);
}

NpyArray npy_read(const std::string& path) {
  std::string bytes = read_file(path);
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) TC_THROW("%s: not a .npy file", path.c_str());
  int major = uint8_t(bytes[6]);
  size_t hlen, off;
  if (major == 1) {
    hlen = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    off = 10;
  } else {
    if (bytes.size() < 12) TC_THROW("%s: truncated .npy header", path.c_str());
    hlen = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8) | (size_t(uint8_t(bytes[10])) << 16) |
           (size_t(uint8_t(bytes[11])) << 24);
    off = 12;
  }
  if (off + hlen > bytes.size()) TC_THROW("%s: truncated .npy header", path.c_str());
  std::string header = bytes.substr(off, hlen);
  auto field = [&](const char* key) -> std::string {
    size_t p = header.find(key);
    if (p == std::string::npos) TC_THROW("%s: .npy header lacks %s", path.c_str(), key);
    return header.substr(p + std::strlen(key));
  };
  std::string descr = field("'descr':");
  size_t q1 = descr.find('\''), q2 = descr.find('\'', q1 + 1);
  descr = descr.substr(q1 + 1, q2 - q1 - 1);
  if (field("'fortran_order':").find("True") < field("'fortran_order':").find(',')) TC_THROW("%s: Fortran order unsupported", path.c_str());
  std::string shp = field("'shape':");
  size_t p1 = shp.find('('), p2 = shp.find(')');
  NpyArray out;
  int64_t count = 1;
  std::string inner = shp.substr(p1 + 1, p2 - p1 - 1);
  size_t pos = 0;
  while (pos < inner.size()) {
    while (pos < inner.size() && (inner[pos] == ' ' || inner[pos] == ',')) ++pos;
    if (pos >= inner.size()) break;
    int64_t v = std::strtoll(inner.c_str() + pos, nullptr, 10);
    out.shape.push_back(v);
    count *= v;
    while (pos < inner.size() && inner[pos] != ',') ++pos;
  }
  const char* payload = bytes.data() + off + hlen;
  size_t avail = bytes.size() - off - hlen;
  out.data.resize(size_t(count));
  auto need = [&](size_t es) {
    if (avail < es * size_t(count)) TC_THROW("%s: truncated .npy data", path.c_str());
  };
  if (descr == "<f4") {
    need(4);
    std::memcpy(out.data.data(), payload, 4 * size_t(count));
  } else if (descr == "<f8") {
    need(8);
    for (int64_t i = 0; i < count; ++i) {
      double d;
      std::memcpy(&d, payload + 8 * i, 8);
      out.data[i] = float(d);
    }
  } else if (descr == "<i4") {
    need(4);
    for (int64_t i = 0; i < count; ++i) {
      int32_t d;
      std::memcpy(&d, payload + 4 * i, 4);
      out.data[i] = float(d);
    }
  } else if (descr == "<i8") {
    need(8);
    for (int64_t i = 0; i < count; ++i) {
      int64_t d;
      std::memcpy(&d, payload + 8 * i, 8);
      out.data[i] = float(d);
    }
  } else {
    TC_THROW("%s: unsupported dtype %s", path.c_str(), descr.c_str());
  }
  return out;
}

}  // namespace tc
