# Kafka message codegen: proto/kafka/*.schema -> ${PROJECT_BINARY_DIR}/generated/kafka/*.{h,cc}.
# Sets KAFKA_GENERATED_SOURCES (the .cc files, compiled into sluice::protocol). The generator
# reruns when any schema or the generator itself changes; it rewrites only files whose content
# changed, so editing one schema recompiles one API.

set(KAFKA_SCHEMA_DIR ${PROJECT_SOURCE_DIR}/proto/kafka)
set(KAFKA_CODEGEN ${PROJECT_SOURCE_DIR}/tools/codegen/kafka_codegen.py)
set(KAFKA_GENERATED_DIR ${PROJECT_BINARY_DIR}/generated/kafka)

# CONFIGURE_DEPENDS: adding or removing a schema reconfigures, which updates the output list.
file(GLOB KAFKA_SCHEMAS CONFIGURE_DEPENDS ${KAFKA_SCHEMA_DIR}/*.schema)

set(KAFKA_GENERATED_SOURCES ${KAFKA_GENERATED_DIR}/api.cc ${KAFKA_GENERATED_DIR}/errors.cc)
set(KAFKA_GENERATED_HEADERS ${KAFKA_GENERATED_DIR}/api.h ${KAFKA_GENERATED_DIR}/detail.h
                            ${KAFKA_GENERATED_DIR}/errors.h ${KAFKA_GENERATED_DIR}/testing.h)
foreach(schema ${KAFKA_SCHEMAS})
  get_filename_component(stem ${schema} NAME_WE)
  list(APPEND KAFKA_GENERATED_SOURCES ${KAFKA_GENERATED_DIR}/${stem}.cc)
  list(APPEND KAFKA_GENERATED_HEADERS ${KAFKA_GENERATED_DIR}/${stem}.h)
endforeach()

# The stamp is the command's real output: generated files keep their old timestamps when
# unchanged (write-if-changed), so without it ninja would rerun the generator every build.
set(KAFKA_CODEGEN_STAMP ${KAFKA_GENERATED_DIR}/.stamp)
add_custom_command(
  OUTPUT ${KAFKA_CODEGEN_STAMP}
  BYPRODUCTS ${KAFKA_GENERATED_SOURCES} ${KAFKA_GENERATED_HEADERS}
  COMMAND ${Python3_EXECUTABLE} ${KAFKA_CODEGEN} --out ${PROJECT_BINARY_DIR}/generated
          ${KAFKA_SCHEMAS}
  COMMAND ${CMAKE_COMMAND} -E touch ${KAFKA_CODEGEN_STAMP}
  DEPENDS ${KAFKA_CODEGEN} ${KAFKA_SCHEMAS}
  COMMENT "Generating Kafka message codecs"
  VERBATIM)
add_custom_target(kafka_codegen DEPENDS ${KAFKA_CODEGEN_STAMP})
