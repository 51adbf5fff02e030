# What `cmake --install build --prefix P` puts under P: the library (einfuse::einfuse to CMake
# users), its public headers, the CLI, a CMake package and a pkg-config file.
#   find_package(einfuse REQUIRED)  target_link_libraries(app einfuse::einfuse)
#   cc app.c $(pkg-config --cflags --libs einfuse)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(EINFUSE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/einfuse)

# The installed binaries keep the directories of the libraries they link (NVRTC, LLVM).
set_target_properties(einfuse PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)

install(TARGETS einfuse_shared EXPORT einfuseTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS einfuse RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/einfuse DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/include/einfuse/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/einfuse)

install(EXPORT einfuseTargets NAMESPACE einfuse:: DESTINATION ${EINFUSE_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/einfuseConfig.cmake.in
    ${PROJECT_BINARY_DIR}/einfuseConfig.cmake INSTALL_DESTINATION ${EINFUSE_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/einfuseConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/einfuseConfig.cmake ${PROJECT_BINARY_DIR}/einfuseConfigVersion.cmake
    DESTINATION ${EINFUSE_CMAKE_DIR})

# pkg-config: the prefix is found from the .pc file's own place (${pcfiledir}), so the file is
# right under whatever --prefix the install gets. dlpack.h comes through Cflags when it is not
# in a default include directory.
file(RELATIVE_PATH EINFUSE_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" EINFUSE_PC_TO_PREFIX "${EINFUSE_PC_TO_PREFIX}")
find_package(dlpack CONFIG REQUIRED) # imported targets are per directory: api/ has its own
get_target_property(EINFUSE_DLPACK_INCLUDE dlpack::dlpack INTERFACE_INCLUDE_DIRECTORIES)
set(EINFUSE_PC_DLPACK_CFLAGS "")
foreach(dir IN LISTS EINFUSE_DLPACK_INCLUDE)
    if(NOT dir STREQUAL "/usr/include")
        string(APPEND EINFUSE_PC_DLPACK_CFLAGS " -I${dir}")
    endif()
endforeach()
configure_file(${CMAKE_CURRENT_LIST_DIR}/einfuse.pc.in ${PROJECT_BINARY_DIR}/einfuse.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/einfuse.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
