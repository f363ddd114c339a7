# The fuzz corpora and regressions replayed as ctests in every build (no
# clang, no libFuzzer): each target linked with replay_main.cpp.
function(keydir_fuzz_replay target)
  add_executable(replay_${target} ${PROJECT_SOURCE_DIR}/tests/fuzz/${target}.cpp
                                  ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cpp)
  target_link_libraries(replay_${target} PRIVATE ${ARGN})
  string(REPLACE "fuzz_" "" name ${target})
  add_test(NAME fuzz_replay_${name}
           COMMAND replay_${target} ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name}
                   ${PROJECT_SOURCE_DIR}/tests/fuzz/regressions/${name})
  set_tests_properties(fuzz_replay_${name} PROPERTIES TIMEOUT 300 LABELS "fast;fuzz")
endfunction()
keydir_fuzz_replay(fuzz_certificate keydir_openpgp)
keydir_fuzz_replay(fuzz_api keydir_api keydir_storage_rocksdb)
target_compile_definitions(replay_fuzz_api PRIVATE KEYDIR_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
keydir_fuzz_replay(fuzz_recon keydir_recon)
keydir_fuzz_replay(fuzz_client keydir_client_lib)
keydir_fuzz_replay(fuzz_http keydir_http_parser)
