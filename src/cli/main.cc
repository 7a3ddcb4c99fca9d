// sluice: the admin CLI. Parses the command line (CLI11), runs the chosen verb, prints its failure
// as one `error: ...` line on stderr with exit status 1 (usage errors: CLI11's message, status 2).

#include <cstdio>
#include <cstdlib>

#include "src/cli/commands.h"
#include "src/cli/util.h"

namespace sluice::cli {

void context::on(CLI::App* sub, std::function<outcome<void>()> verb) {
  sub->callback([this, verb = std::move(verb)] { run = verb; });
}

void examples(CLI::App* sub, std::initializer_list<const char*> lines) {
  std::string text = "\nExamples:\n";
  for (const char* l : lines) text += std::string("  ") + l + "\n";
  sub->footer(text);
}

outcome<session> open_session(const context& ctx) {
  CLI_TRY(rk, make_admin_handle(ctx.opt));
  CLI_TRY(md, connect(rk.get(), ctx.opt));
  return session{std::move(rk), std::move(md)};
}

}  // namespace sluice::cli

int main(int argc, char** argv) {
  using namespace sluice::cli;
  CLI::App app{"sluice: manage topics, consumer groups and brokers of any Kafka-compatible cluster",
               "sluice"};
  app.require_subcommand(1);
  // Global options are accepted after the verb too: `sluice topic list --format json`.
  app.fallthrough();
  context ctx;
  const char* env = std::getenv("SLUICE_BROKERS");
  ctx.opt.brokers = env && *env ? env : "localhost:9092";
  std::string format = "table";
  app.add_option("--brokers", ctx.opt.brokers,
                 "Bootstrap brokers host:port[,...] (default: $SLUICE_BROKERS or localhost:9092)");
  app.add_option("--format", format, "Output: table, json or yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}));
  app.add_option("--timeout", ctx.timeout_text,
                 "Bound on every broker call: 500ms, 10s, 2m (default 10s)");
  app.add_option("-X", ctx.opt.properties, "librdkafka property key=value (repeatable)");
  app.add_flag("-v,--verbose", ctx.opt.verbose, "Show librdkafka's logs on stderr");
  app.footer(
      "\nExamples:\n  sluice topic create orders -p 6\n"
      "  echo 'k1:hello' | sluice topic produce orders -k :\n"
      "  sluice topic consume orders -e -f '%k %v\\n'\n"
      "  sluice group describe billing --format json\n"
      "\n`sluice help <command>` shows a command's options and examples.\n");

  auto* topic =
      app.add_subcommand("topic", "Topics: create, list, describe, configs, produce, consume");
  topic->require_subcommand(1);
  add_topic_admin_commands(*topic, ctx);
  add_topic_produce_command(*topic, ctx);
  add_topic_consume_command(*topic, ctx);
  add_group_commands(app, ctx);
  add_cluster_commands(app, ctx);
  add_offsets_command(app, ctx);
  add_help_and_completion(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (or the help); every usage error is status 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  ctx.format = format == "json"   ? output_format::json
               : format == "yaml" ? output_format::yaml
                                  : output_format::table;
  auto timeout = parse_duration(ctx.timeout_text);
  if (!timeout || timeout.value().count() <= 0) {
    std::fprintf(stderr, "error: --timeout: %s\n",
                 timeout ? "must be positive" : timeout.error().message.c_str());
    return 2;
  }
  ctx.opt.timeout = timeout.value();
  if (!ctx.run) {
    std::fprintf(stderr, "%s", app.help().c_str());
    return 2;
  }
  auto r = ctx.run();
  std::fflush(stdout);
  if (!r) {
    std::fprintf(stderr, "error: %s\n", r.error().message.c_str());
    return 1;
  }
  return 0;
}
