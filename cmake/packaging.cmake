# Install rules for what deploy/ ships, and the Debian package built by `cpack -G DEB` in the
# build directory: coap-gateway_<version>-<revision>_<arch>.deb. Included at the end of the top-level
# CMakeLists.txt, after the coap-gateway and onep-sim targets (and their install rules) exist.
#
# Layout (Debian 12): binaries in /usr/bin, the unit in /lib/systemd/system, the production
# config in /etc/coap-gateway (a conffile: dpkg keeps local edits on upgrade), and the
# documentation in /usr/share/doc/coap-gateway. The unit and the config have absolute
# destinations for the package's sake: a plain `cmake --install` writes them to /lib and /etc
# (under $DESTDIR when set) whatever the prefix; install the package instead.
include(GNUInstallDirs)

set(GW_DEPLOY_DIR ${PROJECT_SOURCE_DIR}/deploy)
set(GW_DOC_DIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/coap-gateway)

install(FILES ${GW_DEPLOY_DIR}/coap-gateway.service
        DESTINATION /lib/systemd/system
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# World-readable on purpose: with DynamicUser=yes the service runs as a transient user that must
# read it. Keep secrets (TLS keys) in files of their own, see deploy/README.md.
install(FILES ${GW_DEPLOY_DIR}/gateway.yaml
        DESTINATION /etc/coap-gateway
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

set(GW_DEB_REVISION 1)  # the Debian revision of this upstream version (see CPack below)

# Debian wants the changelog compressed with gzip -9n (no name, no time stamp: reproducible).
# Made at configure time so that `cpack` needs no build target besides the two binaries.
string(TIMESTAMP GW_PACKAGE_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)  # honours SOURCE_DATE_EPOCH
configure_file(${GW_DEPLOY_DIR}/debian/changelog.in ${PROJECT_BINARY_DIR}/deb/changelog.Debian @ONLY)
execute_process(
  COMMAND gzip -9nc ${PROJECT_BINARY_DIR}/deb/changelog.Debian
  OUTPUT_FILE ${PROJECT_BINARY_DIR}/deb/changelog.Debian.gz
  RESULT_VARIABLE gw_gzip_result)
if(NOT gw_gzip_result EQUAL 0)
  message(FATAL_ERROR "gzip of the Debian changelog failed: ${gw_gzip_result}")
endif()

# Manual pages, compressed the same way.
foreach(page coap-gateway.1 onep-sim.1)
  configure_file(${GW_DEPLOY_DIR}/man/${page} ${PROJECT_BINARY_DIR}/deb/man/${page} COPYONLY)
  execute_process(
    COMMAND gzip -9nc ${PROJECT_BINARY_DIR}/deb/man/${page}
    OUTPUT_FILE ${PROJECT_BINARY_DIR}/deb/man/${page}.gz
    RESULT_VARIABLE gw_gzip_result)
  if(NOT gw_gzip_result EQUAL 0)
    message(FATAL_ERROR "gzip of ${page} failed: ${gw_gzip_result}")
  endif()
  install(FILES ${PROJECT_BINARY_DIR}/deb/man/${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endforeach()

install(FILES ${GW_DEPLOY_DIR}/debian/copyright ${PROJECT_BINARY_DIR}/deb/changelog.Debian.gz
              ${GW_DEPLOY_DIR}/README.md
        DESTINATION ${GW_DOC_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/conf/gateway.example.yaml
              ${GW_DEPLOY_DIR}/nginx-udp.conf
        DESTINATION ${GW_DOC_DIR}/examples)
install(DIRECTORY ${GW_DEPLOY_DIR}/k8s DESTINATION ${GW_DOC_DIR}/examples)

# --- CPack: one binary package, coap-gateway ---------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME coap-gateway)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "coap-gateway maintainers")
set(CPACK_PACKAGE_CONTACT "coap-gateway maintainers <coap-gateway@example.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "CoAP-to-HTTP gateway for Exosite's One Platform")
# Lines under 80 columns (lintian); a line holding only "." separates paragraphs.
set(CPACK_PACKAGE_DESCRIPTION
    "coap-gateway lets constrained devices speak Exosite's CoAP API over UDP and
turns each request into the One Platform's HTTP and JSON-RPC calls: Write,
Read, Observed Read, Multiple Read and Write, provisioning, content download,
timestamp and the RPC proxy. It maps response codes and content formats, CBOR
to JSON, blockwise transfers (RFC 7959) and Observe (RFC 7641, bridged to HTTP
long-polling).
.
The package runs the gateway as a hardened systemd service configured by
/etc/coap-gateway/gateway.yaml, and ships onep-sim, a local stand-in for the
One Platform HTTP API, for tests and demonstrations.")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

# Debian version <upstream>-<revision>: a non-native package, whose changelog is
# changelog.Debian.gz. The file is coap-gateway_<upstream>-<revision>_<arch>.deb.
set(CPACK_DEBIAN_PACKAGE_RELEASE ${GW_DEB_REVISION})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # dpkg-shlibdeps (dpkg-dev) and file(1)
# Upstream TLS verification uses the system store unless upstream.tls.ca_file says otherwise.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libcoap3-bin")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${GW_DEPLOY_DIR}/debian/conffiles
    ${GW_DEPLOY_DIR}/debian/postinst
    ${GW_DEPLOY_DIR}/debian/prerm
    ${GW_DEPLOY_DIR}/debian/postrm)

include(CPack)
