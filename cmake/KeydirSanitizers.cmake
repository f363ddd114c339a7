# KEYDIR_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer for everything we build.
if(KEYDIR_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # g++ 12 reports false -Wmaybe-uninitialized inside libstdc++ (std::regex,
    # std::function) once ASan instruments the code.
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
endif()
