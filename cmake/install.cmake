# Install rules, the CMake package, pkg-config files and the Debian packages.
#
# Two components, which become two Debian packages (cpack -G DEB):
#   runtime      deadpeer_<version>_<arch>.deb: the `deadpeer` program;
#   development  deadpeer-dev_<version>_<arch>.deb: the libraries, the
#                headers under include/deadpeer/, the CMake package
#                (find_package(deadpeer)) and the pkg-config files.
# `cmake --install` without --component installs both.
# On a multiarch system (Debian), libraries and their pkg-config files go
# under lib/<triplet>, as Debian policy and lintian want them, whatever the
# prefix; CMake's find_package and pkg-config search there too.
if(CMAKE_LIBRARY_ARCHITECTURE AND NOT DEFINED CACHE{CMAKE_INSTALL_LIBDIR})
  set(CMAKE_INSTALL_LIBDIR "lib/${CMAKE_LIBRARY_ARCHITECTURE}" CACHE PATH
      "Object code libraries (LIBDIR)")
endif()
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/deadpeer)
set(pkgconfig_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(TARGETS deadpeer RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(TARGETS deadpeer_harness deadpeer_gtest deadpeer_gtest_main
  EXPORT deadpeerTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
  FILE_SET HEADERS DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development
  FILE_SET generated DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development)
# Packages (and `cmake --install --strip`) ship the archives without their
# debug information: 120 MB of DWARF that a user's test link does not need.
install(CODE "
  if(CMAKE_INSTALL_DO_STRIP)
    foreach(archive deadpeer deadpeer_gtest deadpeer_gtest_main)
      execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug --enable-deterministic-archives
        \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/lib\${archive}.a\"
        COMMAND_ERROR_IS_FATAL ANY)
    endforeach()
  endif()" COMPONENT development)
install(EXPORT deadpeerTargets NAMESPACE deadpeer:: DESTINATION ${cmake_dir}
  COMPONENT development)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/deadpeerConfig.cmake.in
  ${PROJECT_BINARY_DIR}/deadpeerConfig.cmake INSTALL_DESTINATION ${cmake_dir})
# 0.x: a minor release may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/deadpeerConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/deadpeerConfig.cmake
              ${PROJECT_BINARY_DIR}/deadpeerConfigVersion.cmake
  DESTINATION ${cmake_dir} COMPONENT development)

# pkg-config files that work wherever the tree is unpacked: the prefix is
# found from the .pc file's own directory.
file(RELATIVE_PATH pc_to_prefix /prefix/${pkgconfig_dir} /prefix)
string(REGEX REPLACE "/$" "" pc_to_prefix "${pc_to_prefix}")
foreach(pc IN ITEMS deadpeer deadpeer-gtest deadpeer-gtest-main)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${pkgconfig_dir} COMPONENT development)
endforeach()

# Licence and changelog, where Debian looks for them: one copy per package.
string(TIMESTAMP changelog_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file(${PROJECT_SOURCE_DIR}/cmake/debian/changelog.in ${PROJECT_BINARY_DIR}/debian/changelog
               @ONLY)
file(READ ${PROJECT_SOURCE_DIR}/LICENSE license_text)
string(REGEX REPLACE "\n\n" "\n.\n" license_text "${license_text}")
string(REGEX REPLACE "\n([^\n])" "\n \\1" license_text "${license_text}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/debian/copyright.in ${PROJECT_BINARY_DIR}/debian/copyright
               @ONLY)
find_program(GZIP gzip REQUIRED)
execute_process(COMMAND ${GZIP} -9n
  INPUT_FILE ${PROJECT_BINARY_DIR}/debian/changelog
  OUTPUT_FILE ${PROJECT_BINARY_DIR}/debian/changelog.gz
  COMMAND_ERROR_IS_FATAL ANY)
foreach(component IN ITEMS runtime development)
  set(package deadpeer)
  if(component STREQUAL "development")
    set(package deadpeer-dev)
  endif()
  install(FILES ${PROJECT_BINARY_DIR}/debian/copyright ${PROJECT_BINARY_DIR}/debian/changelog.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package} COMPONENT ${component})
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME deadpeer)
set(CPACK_PACKAGE_VENDOR "The deadpeer authors")
set(CPACK_PACKAGE_CONTACT "The deadpeer authors <deadpeer@example.org>")
# Each package's synopsis is the first line of its component's description
# below; a summary would be prepended to both as a second synopsis.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_COMPONENTS_ALL runtime development)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME deadpeer)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION net)
# The Debian 12 runtime libraries, read from the program by dpkg-shlibdeps.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
"${PROJECT_DESCRIPTION}
deadpeer answers one question with a measurement: when the peer dies, how
long until you know? It builds isolated hosts in anonymous network
namespaces, injects the faults that kill peers in production (drops,
blackhole and unreachable routes, resets, reboots, frozen processes,
forgetful firewalls) into real kernel network stacks, and checks the
detection time of TCP keepalive, TCP_USER_TIMEOUT, heartbeats or any
program against a model of the kernel. Runs as root or as any user through
a user namespace.")

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME deadpeer-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
  "deadpeer (= ${PROJECT_VERSION}), libnl-3-dev (>= 3.7), libnl-route-3-dev (>= 3.7), libnftables-dev, libpcap-dev, libmnl-dev, libre2-dev, libyaml-cpp-dev, nlohmann-json3-dev (>= 3.10), libgtest-dev, libgmock-dev, pkg-config")
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION
"deadpeer in your own C++ test suite: libraries, headers, CMake package
The harness library (deadpeer::harness), GoogleTest fixtures and
detection assertions (deadpeer::gtest) and a main() that enters a user and
network namespace first (deadpeer::gtest_main), with headers under
/usr/include/deadpeer, a CMake package for find_package(deadpeer) and
pkg-config files.")

include(CPack)
