# Placeholder until the generator lands: defines KAFKA_GENERATED_SOURCES.
set(KAFKA_GENERATED_SOURCES "")
