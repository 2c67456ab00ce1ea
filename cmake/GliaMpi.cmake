# Decide GLIA_HAVE_MPI / GLIA_HAVE_NCCL from GLIA_MPI. Only train/parallel (the library
# glia_parallel, linked by the glia command, its tests and benchmarks) uses them: the
# other floors, and every binary of the GPU bundle, link neither library.
set(GLIA_HAVE_MPI OFF)
set(GLIA_HAVE_NCCL OFF)
if(NOT GLIA_MPI STREQUAL "OFF")
  find_package(MPI COMPONENTS C QUIET)
  if(MPI_C_FOUND)
    set(GLIA_HAVE_MPI ON)
    find_program(GLIA_MPIEXEC NAMES mpirun mpiexec HINTS ${MPI_HOME} PATH_SUFFIXES bin)
  elseif(GLIA_MPI STREQUAL "ON")
    message(FATAL_ERROR "GLIA_MPI=ON but no MPI was found (Debian/Ubuntu: apt-get install libopenmpi-dev "
                        "openmpi-bin; scripts/setup.sh installs them), or configure with -DGLIA_MPI=OFF")
  endif()
endif()
# NCCL ships with the CUDA toolkit here (include/nccl.h, lib/libnccl.so); its unique id
# is bootstrapped over MPI, so it needs both.
if(GLIA_HAVE_MPI AND GLIA_HAVE_CUDA)
  find_path(GLIA_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} $ENV{NCCL_HOME}
            PATH_SUFFIXES include PATHS /usr/local/include /usr/include)
  find_library(GLIA_NCCL_LIBRARY NAMES nccl HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib
               $ENV{NCCL_HOME} PATH_SUFFIXES lib lib64 PATHS /usr/local/lib /usr/lib/x86_64-linux-gnu)
  if(GLIA_NCCL_INCLUDE AND GLIA_NCCL_LIBRARY)
    set(GLIA_HAVE_NCCL ON)
  endif()
endif()
