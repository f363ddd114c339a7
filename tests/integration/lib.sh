# Shared helpers of the end-to-end test scripts; source it after `set -euo
# pipefail`. Everything is in the harness (tests/support/harness.sh): check,
# finish, free_port, make_test_ca, use_temp_dir/cleanup, start_keydird,
# stop_pid, wait_until, wait_for, wait_port, wait_http, start_smtp_sink.
source "$(dirname "${BASH_SOURCE[0]}")/../support/harness.sh"
