// sluice help <verb...> (a verb's help with examples) and sluice completion bash (a completion
// script generated from the command tree, so it never drifts from the real verbs).

#include <cstdio>
#include <memory>

#include "src/cli/commands.h"

namespace sluice::cli {

namespace {

struct node {
  std::string path;  // "topic produce"
  std::vector<std::string> subs;
  std::vector<std::string> opts;
};

void walk(const CLI::App* app, const std::string& path, std::vector<node>& out) {
  node n{path, {}, {}};
  for (const CLI::App* sub : app->get_subcommands({})) {
    if (sub->get_name().empty()) continue;
    n.subs.push_back(sub->get_name());
  }
  for (const CLI::Option* o : app->get_options()) {
    for (const auto& l : o->get_lnames()) n.opts.push_back("--" + l);
    for (const auto& s : o->get_snames()) n.opts.push_back("-" + s);
  }
  out.push_back(n);
  for (const CLI::App* sub : app->get_subcommands({})) {
    if (sub->get_name().empty()) continue;
    walk(sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), out);
  }
}

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

std::string bash_script(const CLI::App& root) {
  std::vector<node> nodes;
  walk(&root, "", nodes);
  std::string subs, opts;
  for (const auto& n : nodes) {
    // Keys carry a "_" prefix: bash refuses an empty key for the top level.
    subs += "  [\"_" + n.path + "\"]=\"" + join(n.subs) + "\"\n";
    opts += "  [\"_" + n.path + "\"]=\"" + join(n.opts) + "\"\n";
  }
  return "# bash completion for sluice: source <(sluice completion bash)\n"
         "declare -gA _sluice_subs=(\n" +
         subs +
         ")\n"
         "declare -gA _sluice_opts=(\n" +
         opts + ")\n" +
         R"BASH(_sluice() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} path="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    [[ $w == -* ]] && continue
    case " ${_sluice_subs[_$path]} " in *" $w "*) path="${path:+$path }$w" ;; esac
  done
  case $prev in
    --format) COMPREPLY=($(compgen -W "table json yaml" -- "$cur")); return ;;
    --brokers|--timeout|-f|--file|-X) COMPREPLY=(); [[ $prev == -f || $prev == --file ]] && COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "${_sluice_opts[_$path]} ${_sluice_opts[_]}" -- "$cur"))
  elif [[ -n ${_sluice_subs[_$path]} ]]; then
    COMPREPLY=($(compgen -W "${_sluice_subs[_$path]}" -- "$cur"))
  else
    case $path in
      "topic "*|offsets) COMPREPLY=($(compgen -W "$(sluice --timeout 2s topic list 2>/dev/null | awk 'NR > 1 { print $1 }')" -- "$cur")) ;;
      "group "*) COMPREPLY=($(compgen -W "$(sluice --timeout 2s group list 2>/dev/null | awk 'NR > 1 { print $1 }')" -- "$cur")) ;;
      "help"*) COMPREPLY=($(compgen -W "${_sluice_subs[_]}" -- "$cur")) ;;
    esac
  fi
}
complete -F _sluice sluice
)BASH";
}

outcome<void> show_help(const CLI::App& root, const std::vector<std::string>& path) {
  const CLI::App* app = &root;
  for (const auto& name : path) {
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : app->get_subcommands({})) {
      if (sub->check_name(name)) next = sub;
    }
    if (!next) return fail("no such command: " + join(path));
    app = next;
  }
  std::printf("%s", app->help().c_str());
  return boost::outcome_v2::success();
}

}  // namespace

void add_help_and_completion(CLI::App& app, context& ctx) {
  auto path = std::make_shared<std::vector<std::string>>();
  auto* help = app.add_subcommand("help", "Show help for a command, with examples");
  help->add_option("command", *path, "The command, e.g. `topic produce`");
  examples(help, {"sluice help topic consume", "sluice help group seek"});
  ctx.on(help, [&app, path] { return show_help(app, *path); });

  auto shell = std::make_shared<std::string>();
  auto* completion = app.add_subcommand("completion", "Print a shell completion script");
  completion->add_option("shell", *shell, "Shell (bash)")
      ->required()
      ->check(CLI::IsMember({"bash"}));
  examples(completion, {"source <(sluice completion bash)",
                        "sluice completion bash > /etc/bash_completion.d/sluice"});
  ctx.on(completion, [&app] {
    std::printf("%s", bash_script(app).c_str());
    return outcome<void>(boost::outcome_v2::success());
  });
}

}  // namespace sluice::cli
