# The CUDA backend's suites (included from tests/exec/CMakeLists.txt). Each ctest entry holds cases that skip under
# one condition, so that an entry whose cases all skipped exits 77 (tests/skip.hpp) and ctest reports it Skipped:
#   exec_cuda_1rank      needs a CUDA device
#   exec_cuda_2ranks     needs 2 CUDA devices (NCCL)
#   exec_cuda_no_device  the refusal without a device: runs where there is none, skipped where there is one
set(hpsim_cuda_test_names exec_cuda_1rank exec_cuda_2ranks exec_cuda_no_device)
if(NOT TARGET hpsim_exec_cuda_kernels)
  # Built without CUDA: the entries exist and report Skipped, saying why.
  foreach(name ${hpsim_cuda_test_names})
    add_test(NAME ${name} COMMAND sh -c "echo 'skipped: hpsim was built without the CUDA backend'; exit 77")
    set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77)
  endforeach()
  return()
endif()
add_executable(tests_exec_cuda exec_test_main.cpp cuda_backend_test.cpp cuda_calibration_test.cpp)
target_link_libraries(tests_exec_cuda PRIVATE hpsim_exec doctest::doctest)
add_test(NAME exec_cuda_1rank COMMAND ${hpsim_mpirun} -np 1 $<TARGET_FILE:tests_exec_cuda> --test-case=1rank:*
                                      "--test-case-exclude=*without a device*")
add_test(NAME exec_cuda_2ranks COMMAND ${hpsim_mpirun} -np 2 $<TARGET_FILE:tests_exec_cuda> --test-case=2ranks:*)
add_test(NAME exec_cuda_no_device COMMAND ${hpsim_mpirun} -np 1 $<TARGET_FILE:tests_exec_cuda>
                                          "--test-case=*without a device*")
set_tests_properties(exec_cuda_1rank exec_cuda_no_device PROPERTIES PROCESSORS 1)
set_tests_properties(exec_cuda_2ranks PROPERTIES PROCESSORS 2)
set_tests_properties(${hpsim_cuda_test_names} PROPERTIES ENVIRONMENT "${hpsim_mpi_env}" TIMEOUT 300 SKIP_RETURN_CODE 77)
