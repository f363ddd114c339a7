# keydir_warnings(<target>): strict warnings for our own code only.
function(keydir_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Wunused -Wpedantic
                                           -Wconversion -Wno-sign-conversion)
endfunction()
