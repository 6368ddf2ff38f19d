# The CUDA backend's suites (included from tests/exec/CMakeLists.txt when hpsim_exec has the CUDA backend). Each test
# checks for a device first; without one it prints "skipped: no CUDA device" and passes.
add_executable(tests_exec_cuda exec_test_main.cpp cuda_backend_test.cpp cuda_calibration_test.cpp)
target_link_libraries(tests_exec_cuda PRIVATE hpsim_exec doctest::doctest)
add_test(NAME exec_cuda_1rank COMMAND ${hpsim_mpirun} -np 1 $<TARGET_FILE:tests_exec_cuda> --test-case=1rank:*)
add_test(NAME exec_cuda_2ranks COMMAND ${hpsim_mpirun} -np 2 $<TARGET_FILE:tests_exec_cuda> --test-case=2ranks:*)
set_tests_properties(exec_cuda_1rank PROPERTIES ENVIRONMENT "${hpsim_mpi_env}" TIMEOUT 300 PROCESSORS 1)
set_tests_properties(exec_cuda_2ranks PROPERTIES ENVIRONMENT "${hpsim_mpi_env}" TIMEOUT 300 PROCESSORS 2)
