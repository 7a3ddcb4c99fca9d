#pragma once
// Registration of the verb groups on the CLI11 app, and what every verb shares.
//
// Each verb group lives in its own file (topic_admin.cc, topic_produce.cc, topic_consume.cc,
// group.cc, cluster.cc, completion.cc) and adds its subcommands here. Parsing only records which
// verb to run (`context::run`); main runs it after parsing and prints its failure, if any.
// Single-threaded.

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "src/cli/client.h"
#include "src/cli/failure.h"
#include "src/cli/output.h"

namespace sluice::cli {

struct context {
  options opt;
  std::string timeout_text = "10s";
  output_format format = output_format::table;
  std::function<outcome<void>()> run;

  // Makes `sub` run `verb` when it is the chosen subcommand.
  void on(CLI::App* sub, std::function<outcome<void>()> verb);
};

// Adds "Examples:" lines to a subcommand's help (shown by `--help` and `sluice help <verb>`).
void examples(CLI::App* sub, std::initializer_list<const char*> lines);

// Connects with a fresh admin handle: the handle and the cluster metadata.
struct session {
  handle rk;
  cluster_metadata md;
};
outcome<session> open_session(const context& ctx);

void add_topic_admin_commands(CLI::App& topic, context& ctx);
void add_topic_produce_command(CLI::App& topic, context& ctx);
void add_topic_consume_command(CLI::App& topic, context& ctx);
void add_group_commands(CLI::App& app, context& ctx);
void add_cluster_commands(CLI::App& app, context& ctx);
void add_offsets_command(CLI::App& app, context& ctx);
void add_help_and_completion(CLI::App& app, context& ctx);

}  // namespace sluice::cli
