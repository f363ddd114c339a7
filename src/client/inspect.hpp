// `keydir inspect`: offline report on every certificate of an input.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include <nlohmann/json.hpp>

#include "client/exit_codes.hpp"
#include "common/bytes.hpp"
#include "openpgp/policy.hpp"
#include "openpgp/verify.hpp"

namespace keydir::client {

struct InspectReport {
  std::optional<Error> input_error;  // the input as a whole was refused
  std::vector<openpgp::Verification> certificates;
  [[nodiscard]] int exit_code() const;
};

InspectReport inspect(ByteView input, const openpgp::Policy& policy, std::uint64_t now);

// The JSON document (docs/client.md): one object per certificate.
nlohmann::json to_json(const InspectReport& report, std::uint64_t now);
void print_text(std::ostream& out, const InspectReport& report, std::uint64_t now);

}  // namespace keydir::client
