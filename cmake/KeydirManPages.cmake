# The man pages keydird(8) and keydir(1), made by help2man at build time from
# the built binaries' --help and --version (and every subcommand's --help,
# cmake/man/subcommands.pl), so they cannot drift from the programs. Sections
# --help does not print (DESCRIPTION, FILES, ENVIRONMENT, SEE ALSO) are in
# cmake/man/<program>.h2m. Without help2man (or perl) the pages are skipped,
# with a message, and not installed.
#
# Included from CMakeLists.txt (after the keydird and keydir targets exist)
# it defines the target keydir_man (part of `all`) and installs the pages;
# run as a script (-P) it makes one page:
#   cmake -DPROGRAM=<binary> -DSECTION=8 -DNAME="..." -DINCLUDE=<file.h2m>
#         -DOUT=<page> -DVERSION=<x.y.z> -DHELP2MAN=... -DPERL=... -P KeydirManPages.cmake

if(CMAKE_SCRIPT_MODE_FILE)
  get_filename_component(dir "${PROGRAM}" DIRECTORY)
  get_filename_component(prog "${PROGRAM}" NAME)
  # The bare name in the pages' "Usage:" lines: the program is found in PATH.
  set(ENV{PATH} "${dir}:$ENV{PATH}")
  # Without its own --version (an older binary), the project's version.
  set(version_arg "")
  execute_process(COMMAND "${PROGRAM}" --version RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    set(version_arg "--version-string=${VERSION}")
  endif()
  execute_process(COMMAND "${PERL}" "${CMAKE_CURRENT_LIST_DIR}/man/subcommands.pl" "${prog}"
                  OUTPUT_FILE "${OUT}.commands.h2m" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${prog}: the subcommands' --help could not be read")
  endif()
  execute_process(COMMAND "${HELP2MAN}" --no-info --locale=C.UTF-8 --section=${SECTION} "--name=${NAME}"
                          --include=${INCLUDE} --include=${OUT}.commands.h2m ${version_arg}
                          --output=${OUT}.tmp "${prog}"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "help2man failed for ${prog}")
  endif()
  file(RENAME "${OUT}.tmp" "${OUT}")
  file(REMOVE "${OUT}.commands.h2m")
  return()
endif()

find_program(KEYDIR_HELP2MAN help2man)
find_program(KEYDIR_PERL perl)
if(NOT KEYDIR_HELP2MAN OR NOT KEYDIR_PERL)
  message(STATUS "help2man not found: the man pages keydird.8 and keydir.1 are not built "
                 "or installed (apt-get install help2man; deploy/setup.sh does)")
  return()
endif()

set(KEYDIR_MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(KEYDIR_MAN_PAGES)
# keydir_man_page(<target> <section> <name line>)
function(keydir_man_page target section name)
  set(out ${KEYDIR_MAN_DIR}/${target}.${section})
  set(include ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/man/${target}.h2m)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${KEYDIR_MAN_DIR}
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${target}> -DSECTION=${section}
            "-DNAME=${name}" -DINCLUDE=${include} -DOUT=${out} -DVERSION=${PROJECT_VERSION}
            -DHELP2MAN=${KEYDIR_HELP2MAN} -DPERL=${KEYDIR_PERL}
            -P ${CMAKE_CURRENT_FUNCTION_LIST_FILE}
    DEPENDS ${target} ${include} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/man/subcommands.pl
            ${CMAKE_CURRENT_FUNCTION_LIST_FILE}
    COMMENT "help2man: ${target}.${section}"
    VERBATIM)
  install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  set(KEYDIR_MAN_PAGES ${KEYDIR_MAN_PAGES} ${out} PARENT_SCOPE)
endfunction()

keydir_man_page(keydird 8 "OpenPGP key directory server (HKP, WKD, VKS)")
if(TARGET keydir)
  keydir_man_page(keydir 1 "publish, find and check OpenPGP keys")
endif()
add_custom_target(keydir_man ALL DEPENDS ${KEYDIR_MAN_PAGES})
