# hpsim_embed_files(OUT_CPP NAMESPACE FUNCTION FILES...)
# Generates a .cpp defining `std::span<const EmbeddedFile> NAMESPACE::FUNCTION()` with each file's name (without
# directory) and content, so that presets ship inside the binary and need no install path.
function(hpsim_embed_files out_cpp namespace function)
  set(files ${ARGN})
  add_custom_command(
    OUTPUT ${out_cpp}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out_cpp} -DNAMESPACE=${namespace} -DFUNCTION=${function}
            "-DFILES=${files}" -P ${CMAKE_SOURCE_DIR}/cmake/EmbedFilesScript.cmake
    DEPENDS ${files} ${CMAKE_SOURCE_DIR}/cmake/EmbedFilesScript.cmake
    COMMENT "Embedding ${function}"
    VERBATIM)
endfunction()
