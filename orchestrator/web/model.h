// The views of the web view as JSON documents, private to orchestrator/web. Each view is built
// once as JSON: the JSON endpoint returns it as is and the HTML page renders it, so the two never
// disagree. Archive texts are kept verbatim here; the renderers escape them.
#pragma once

#include <nlohmann/json.hpp>

#include "archive/run_views.h"
#include "common/status.h"

namespace kevo::web {

// Run, progress against the budget, rate, stop reason, best, LLM totals, methods, top programs,
// recent events and the heat maps. `now`: the current unix time.
Result<nlohmann::json> overview_model(RunViews& views, double now);
// The MAP-Elites grid of every island: axes with bin labels, elites per cell.
Result<nlohmann::json> map_model(RunViews& views);
// Every evaluation with id > after: {"statuses": [...], "points": [[id, island, status index,
// fitness or null], ...], "after", "next_after"}: compact, for the fitness chart (100,000
// points ~ 2.5 MB). The chart keeps its points up to `after`, appends these, and asks next from
// `next_after` (RunViews::points_after says why that may go back).
Result<nlohmann::json> points_model(RunViews& views, ProgramId after);
// One program: record, parent, lineage, children, diff to its parent, the LLM exchange.
Result<nlohmann::json> program_model(RunViews& views, ProgramId id);
// A page of LLM calls and the filters that made it.
Result<nlohmann::json> calls_model(RunViews& views, const LlmCallQuery& query);
// One LLM call: the row, prompt messages, reply, the programs around it.
Result<nlohmann::json> call_model(RunViews& views, LlmCallId id);
// A token that changes whenever the run moves (evaluations, pending, LLM calls, status). O(1).
Result<std::string> version_token(RunViews& views);

// The prompt as stored (JSON of the messages, or plain text) as [{role, content}].
nlohmann::json prompt_messages(const std::string& prompt);

}  // namespace kevo::web
