# kevo_embed_files(TARGET tgt NAME name BASE dir FILES a b ...)
# Compiles text files into the binary as `kevo::embedded_<name>()`, a list of {path relative to
# BASE, contents}. The task header and device helpers reach NVRTC from memory this way, and the
# binary needs no data files beside it.
function(kevo_embed_files)
  cmake_parse_arguments(E "" "TARGET;NAME;BASE" "FILES" ${ARGN})
  set(script "${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake")
  set(output "${CMAKE_CURRENT_BINARY_DIR}/embedded_${E_NAME}.cc")
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DNAME=${E_NAME} -DBASE=${E_BASE}
            "-DFILES=${E_FILES}" -P ${script}
    DEPENDS ${E_FILES} ${script}
    COMMENT "Embedding ${E_NAME} files"
    VERBATIM)
  target_sources(${E_TARGET} PRIVATE ${output})
endfunction()
