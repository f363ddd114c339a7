// libFuzzer target: armor + packet parsing + validation.
#include "fuzz_certificate_body.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  keydir::fuzz::fuzz_certificate(data, size);
  return 0;
}
