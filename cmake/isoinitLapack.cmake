# isoinit_find_scipy_openblas(): the OpenBLAS of the scipy-openblas32 wheel (symbols prefixed
# scipy_, 32-bit integers, CPU kernels picked at run time) as the imported target
# isoinit::scipy_openblas, located through the Python interpreter (Python_EXECUTABLE, or
# python3 on PATH): `pip install scipy-openblas32` (a build requirement of the Python package).
include_guard(GLOBAL)

function(isoinit_find_scipy_openblas)
  if(TARGET isoinit::scipy_openblas)
    return()
  endif()
  set(_python "${Python_EXECUTABLE}")
  if(NOT _python)
    find_program(_python NAMES python3 python)
  endif()
  execute_process(
    COMMAND "${_python}" -c
            "import scipy_openblas32 as s, sys; sys.stdout.write(s.get_lib_dir() + ';' + s.get_library(fullname=True))"
    OUTPUT_VARIABLE _out
    RESULT_VARIABLE _rc
    ERROR_VARIABLE _err)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "isoinit: ISOINIT_LAPACK is ON but the Python interpreter ${_python} has no scipy_openblas32 "
                        "(pip install scipy-openblas32), or configure with -DISOINIT_LAPACK=OFF for the Eigen-only "
                        "kernel:\n${_err}")
  endif()
  list(GET _out 0 _libdir)
  list(GET _out 1 _libname)
  add_library(isoinit::scipy_openblas SHARED IMPORTED GLOBAL)
  set_target_properties(isoinit::scipy_openblas PROPERTIES IMPORTED_LOCATION "${_libdir}/${_libname}")
  message(STATUS "isoinit: LAPACK/BLAS from scipy-openblas32: ${_libdir}/${_libname}")
endfunction()
