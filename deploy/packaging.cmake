# Debian package via CPack: `cmake --build build --target package` -> mailstack-exporter_<v>_amd64.deb
install(FILES ${CMAKE_CURRENT_LIST_DIR}/mailstack-exporter.service DESTINATION lib/systemd/system)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/mailstack-exporter.default DESTINATION /etc/default
        RENAME mailstack-exporter)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/config.example.yml DESTINATION share/doc/mailstack-exporter)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/alerts/ DESTINATION share/mailstack-exporter/alerts)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/grafana/ DESTINATION share/mailstack-exporter/grafana)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mailstack-exporter)
set(CPACK_PACKAGE_CONTACT "mailstack engineers <engineers@mailstack.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Prometheus exporter for Postfix, Dovecot and OpenDKIM mail servers")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_LIST_DIR}/debian/postinst)
include(CPack)
