# pa_embed_sources(<target_var_out> <header_out> <symbol_prefix> <files...>)
# Turns each .cl file into a C++ raw string literal in one generated header, with a table
#   struct pa_embedded_source { const char* name; const char* text; };
#   inline constexpr pa_embedded_source <prefix>_sources[] = {...};
# so kernels live in .cl files and are compiled into the library. Regenerated when a file changes.
function(pa_embed_sources out_header prefix)
  set(files ${ARGN})
  set(script ${CMAKE_SOURCE_DIR}/cmake/embed_run.cmake)
  add_custom_command(
    OUTPUT ${out_header}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out_header} -DPREFIX=${prefix} "-DFILES=${files}" -P ${script}
    DEPENDS ${files} ${script}
    COMMENT "Embedding ${prefix} kernels"
    VERBATIM) # keeps -DFILES=a.cl;b.cl one argument (the shell would split it at ';')
endfunction()
