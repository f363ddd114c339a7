# One include root per layer target.
#
#   keydir_headers(TARGET PREFIX DIR [FILES h...] [PRIVATE_FILES h...] [EXCLUDE subdir...])
#
# Makes, in the build tree, a folder holding PREFIX/<header> links to the
# target's headers (FILES and PRIVATE_FILES when FILES is given: the other
# headers of DIR then belong to a sibling target) and gives it to the target as its include root: PUBLIC for
# FILES (default: every *.hpp under DIR, minus EXCLUDEd subfolders and
# PRIVATE_FILES), PRIVATE for the rest. So `#include "openpgp/armor.hpp"`
# resolves only in targets that link keydir_openpgp, and a layer's internal
# headers only inside it. There is no other include root into the sources
# (tests/support aside): an include that runs against the plan fails to
# compile, and tests/support/check_layers.py says which rule it breaks.
function(keydir_headers target)
  cmake_parse_arguments(PARSE_ARGV 1 H "" "PREFIX;DIR" "FILES;PRIVATE_FILES;EXCLUDE")
  set(pub ${CMAKE_BINARY_DIR}/include/${target}/public)
  set(priv ${CMAKE_BINARY_DIR}/include/${target}/private)
  file(REMOVE_RECURSE ${CMAKE_BINARY_DIR}/include/${target})
  file(GLOB_RECURSE all CONFIGURE_DEPENDS RELATIVE ${H_DIR} ${H_DIR}/*.hpp)
  set(headers)
  foreach(h IN LISTS all)
    set(skip OFF)
    foreach(x IN LISTS H_EXCLUDE)
      if(h MATCHES "^${x}/")
        set(skip ON)
      endif()
    endforeach()
    if(NOT skip)
      list(APPEND headers ${h})
    endif()
  endforeach()
  if(H_FILES)
    # Only the named headers belong to this target (others in DIR belong to
    # a sibling target).
    set(named ${H_FILES} ${H_PRIVATE_FILES})
    string(REPLACE ";" "|" named_re "${named}")
    set(headers ${all})
    list(FILTER headers INCLUDE REGEX "^(${named_re})$")
  else()
    set(H_FILES ${headers})
    if(H_PRIVATE_FILES)
      list(REMOVE_ITEM H_FILES ${H_PRIVATE_FILES})
    endif()
  endif()
  foreach(h IN LISTS headers)
    if(h IN_LIST H_FILES)
      set(root ${pub})
    else()
      set(root ${priv})
    endif()
    get_filename_component(d ${root}/${H_PREFIX}/${h} DIRECTORY)
    file(MAKE_DIRECTORY ${d})
    file(CREATE_LINK ${H_DIR}/${h} ${root}/${H_PREFIX}/${h} SYMBOLIC)
  endforeach()
  foreach(h IN LISTS H_FILES)
    if(NOT h IN_LIST headers)
      message(FATAL_ERROR "keydir_headers(${target}): no header ${H_DIR}/${h}")
    endif()
  endforeach()
  file(MAKE_DIRECTORY ${pub} ${priv})
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    target_include_directories(${target} PRIVATE ${pub} ${priv})
  else()
    target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${pub}> PRIVATE ${priv})
  endif()
endfunction()
