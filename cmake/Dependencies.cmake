# Every dependency comes from a Debian 12 package (scripts/setup.sh installs them) or the CUDA
# toolkit. Each failure names the package to install, so a missing one costs one line to fix.

function(kevo_require_package name debian_package)
  find_package(${name} ${ARGN} QUIET)
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR "kevo: ${name} not found. Install it with: apt-get install ${debian_package} "
                        "(or run scripts/setup.sh, which installs everything missing).")
  endif()
endfunction()

kevo_require_package(CURL libcurl4-openssl-dev)
kevo_require_package(nlohmann_json nlohmann-json3-dev)
kevo_require_package(SQLite3 libsqlite3-dev)
kevo_require_package(spdlog libspdlog-dev)
kevo_require_package(CLI11 libcli11-dev)
kevo_require_package(yaml-cpp libyaml-cpp-dev)
kevo_require_package(Boost "libboost-dev libboost-filesystem-dev" COMPONENTS filesystem)
kevo_require_package(Threads libc6-dev)
# cpp-httplib (kevo serve). Debian ships it as a shared library behind a split header; its
# pkg-config flags turn on the features the library was built with, so the header matches it.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(KEVO_HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
endif()
if(NOT KEVO_HTTPLIB_FOUND)
  message(FATAL_ERROR "kevo: cpp-httplib not found. Install it with: apt-get install "
                      "libcpp-httplib-dev pkg-config (or run scripts/setup.sh).")
endif()
# libpq (the PostgreSQL archive, archive/sql_postgres.cc): the C client library of Debian's
# PostgreSQL, found through pkg-config.
if(PkgConfig_FOUND)
  pkg_check_modules(KEVO_LIBPQ QUIET IMPORTED_TARGET libpq)
endif()
if(NOT KEVO_LIBPQ_FOUND)
  message(FATAL_ERROR "kevo: libpq not found. Install it with: apt-get install libpq-dev "
                      "pkg-config (or run scripts/setup.sh).")
endif()
find_library(KEVO_SECCOMP_LIB seccomp)
find_path(KEVO_SECCOMP_INCLUDE seccomp.h)
if(NOT KEVO_SECCOMP_LIB OR NOT KEVO_SECCOMP_INCLUDE)
  message(FATAL_ERROR "kevo: libseccomp not found. Install it with: apt-get install libseccomp-dev")
endif()

# CUDA toolkit: headers (cuda.h for driver types, nvrtc.h) and NVRTC. The driver (libcuda.so.1)
# is never linked: evaluator/cuda_driver.cc opens it at run time so kevo starts without a GPU.
if(NOT CUDAToolkit_ROOT AND NOT DEFINED ENV{CUDAToolkit_ROOT} AND EXISTS /usr/local/cuda)
  set(CUDAToolkit_ROOT /usr/local/cuda)
endif()
find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND OR NOT TARGET CUDA::nvrtc)
  message(FATAL_ERROR "kevo: the CUDA toolkit (13.x, with NVRTC) was not found at "
                      "'${CUDAToolkit_ROOT}'. Install it to /usr/local/cuda or pass "
                      "-DCUDAToolkit_ROOT=/path/to/cuda.")
endif()
if(CUDAToolkit_VERSION_MAJOR LESS 13)
  message(FATAL_ERROR "kevo: CUDA toolkit ${CUDAToolkit_VERSION} found at ${CUDAToolkit_ROOT}; kevo needs 13.x.")
endif()
# Not CUDA::nvrtc: CMake's imported target drags in the driver stub (libcuda.so), which would make
# the binary refuse to start on machines without a driver.
find_library(KEVO_NVRTC_LIBRARY nvrtc HINTS ${CUDAToolkit_LIBRARY_DIR} NO_DEFAULT_PATH)
if(NOT KEVO_NVRTC_LIBRARY)
  message(FATAL_ERROR "kevo: libnvrtc.so was not found in ${CUDAToolkit_LIBRARY_DIR}")
endif()
add_library(kevo_cuda_headers INTERFACE)
target_include_directories(kevo_cuda_headers SYSTEM INTERFACE ${CUDAToolkit_INCLUDE_DIRS})
target_link_libraries(kevo_cuda_headers INTERFACE ${KEVO_NVRTC_LIBRARY})
message(STATUS "kevo: CUDA ${CUDAToolkit_VERSION} at ${CUDAToolkit_LIBRARY_ROOT}")
