// The "LLM" section of `kevo status` (see status_sections.h). What the loop records today: the
// calls with their tokens and cost (the archive's totals) and the replies whose edit could not be
// applied ("edit_rejected" events), which never become programs and so never show as failures.
#include "orchestrator/cli/archive_cli.h"
#include "orchestrator/cli/status_sections.h"

namespace kevo::cli {

Result<LlmStatus> llm_status(ArchiveReader& reader, const StatusReport& report) {
  const Totals& t = report.totals;
  KEVO_ASSIGN_OR_RETURN(int64_t rejected, reader.count_events("edit_rejected"));
  LlmStatus s;
  s.json = {{"calls", t.llm_calls},       {"failed", t.llm_failed}, {"tokens_in", t.tokens_in},
            {"tokens_out", t.tokens_out}, {"cost_usd", t.cost_usd}, {"rejected_replies", rejected}};
  if (t.llm_calls == 0 && rejected == 0) {
    s.lines.push_back("LLM          none used (the built-in tuner made every child)");
    return s;
  }
  std::string line = "LLM          " + fmt_int(t.llm_calls) + " calls";
  if (t.llm_failed) line += " (" + fmt_int(t.llm_failed) + " failed)";
  line += ", " + fmt_int(t.tokens_in) + " tokens in, " + fmt_int(t.tokens_out) + " out, " +
          fmt_usd(t.cost_usd);
  s.lines.push_back(line);
  if (rejected > 0) {
    s.lines.push_back("  rejected   " + fmt_int(rejected) +
                      " replies whose edit did not apply (never evaluated; see kevo.log)");
  }
  return s;
}

}  // namespace kevo::cli
