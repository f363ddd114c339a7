// What keydird's maintenance commands (the cmd_*.cpp files) share: the audit
// log, the error report, address and domain lists. Private to keydird.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/commands.hpp"

namespace keydir::server {

// An admin action, kept in the store's audit log.
Result<void> audit_as(storage::KeyStore& store, service::KeyDirectory& directory,
                      const std::string& who, nlohmann::json entry);
Result<void> audit(CommandContext& ctx, nlohmann::json entry);

// Reports `e` as "keydird COMMAND: detail"; the exit status for it.
int fail_with(CommandContext& ctx, std::string_view command, const Error& e);

// "a, b, c".
std::string address_list(const std::vector<std::string>& v);

// --domain values normalized, sorted, without duplicates (BadQuery: one that
// is not a domain).
Result<std::vector<std::string>> normal_domains(const std::vector<std::string>& in);

}  // namespace keydir::server
