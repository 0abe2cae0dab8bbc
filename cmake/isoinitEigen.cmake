# isoinit_find_eigen(): find Eigen 3.4 (Eigen3::Eigen), preferring the headers of the
# cmeel-eigen wheel. cmeel installs Eigen3Config.cmake under <site-packages>/cmeel.prefix,
# which find_package does not search by itself; the hints are <p>/cmeel.prefix for each
# entry p of CMAKE_PREFIX_PATH and of the extra arguments, and the cmeel.prefix of the
# Python interpreter (Python_EXECUTABLE, Python3_EXECUTABLE or PYTHON_EXECUTABLE if set,
# else python3 on PATH). A system Eigen is the fallback.
# Used by isoinit's own CMakeLists and installed next to isoinitConfig.cmake.
include_guard(GLOBAL)
include(CMakeFindDependencyMacro)

function(isoinit_eigen_hints out)
  set(_hints "")
  foreach(_p IN LISTS CMAKE_PREFIX_PATH ARGN)
    list(APPEND _hints "${_p}/cmeel.prefix")
  endforeach()
  set(_python "")
  foreach(_var IN ITEMS Python_EXECUTABLE Python3_EXECUTABLE PYTHON_EXECUTABLE)
    if(NOT _python AND ${_var})
      set(_python "${${_var}}")
    endif()
  endforeach()
  if(NOT _python)
    find_program(ISOINIT_PYTHON_EXECUTABLE NAMES python3 python DOC "Python interpreter that locates cmeel-eigen")
    if(ISOINIT_PYTHON_EXECUTABLE)
      set(_python "${ISOINIT_PYTHON_EXECUTABLE}")
    endif()
  endif()
  if(_python)
    execute_process(
      COMMAND "${_python}" -c "import cmeel, sys; sys.stdout.write(cmeel.__path__[0] + '/../cmeel.prefix')"
      OUTPUT_VARIABLE _cmeel_prefix ERROR_QUIET)
    if(_cmeel_prefix)
      list(APPEND _hints "${_cmeel_prefix}")
    endif()
  endif()
  set(${out} "${_hints}" PARENT_SCOPE)
endfunction()

# find_package(Eigen3 3.4 CONFIG REQUIRED) with the hints above (extra prefixes in ARGN);
# from a package config file, find_dependency (which returns on failure) is used instead.
macro(isoinit_find_eigen)
  isoinit_eigen_hints(_isoinit_eigen_hints ${ARGN})
  if(CMAKE_FIND_PACKAGE_NAME STREQUAL "isoinit")
    find_dependency(Eigen3 3.4 CONFIG HINTS ${_isoinit_eigen_hints})
  else()
    find_package(Eigen3 3.4 CONFIG REQUIRED HINTS ${_isoinit_eigen_hints})
  endif()
endmacro()
