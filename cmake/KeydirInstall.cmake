# `cmake --install` (GNUInstallDirs): the programs, their man pages, the
# systemd unit, the example configuration and the documents.
#   bin/keydir, sbin/keydird, share/man/man1/keydir.1, share/man/man8/keydird.8,
#   lib/systemd/system/keydird.service,
#   share/doc/keydir/{README.md,CHANGELOG.md,docs/*.md,examples/keydird.toml.example}
# The Debian package (debian/) installs this tree and adds /etc/keydir/keydird.toml.
include(GNUInstallDirs)

install(TARGETS keydird RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
if(TARGET keydir)
  install(TARGETS keydir RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

include(KeydirManPages)

# Relative to the prefix: /usr/lib/systemd/system under /usr (Debian 12's
# package moves it to /lib/systemd/system), /usr/local/lib/systemd/system
# under /usr/local (systemd reads both).
set(KEYDIR_SYSTEMD_UNIT_DIR lib/systemd/system CACHE STRING
    "Where cmake --install puts keydird.service (relative: under the prefix)")
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/keydird.service
        DESTINATION ${KEYDIR_SYSTEMD_UNIT_DIR})

install(FILES ${PROJECT_SOURCE_DIR}/deploy/config/keydird.toml.example
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# The documents keep README.md's relative links (docs/operating.md, ...).
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/CHANGELOG.md DESTINATION ${CMAKE_INSTALL_DOCDIR} OPTIONAL)
file(GLOB KEYDIR_DOCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${KEYDIR_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
