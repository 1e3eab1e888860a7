// Building a prompt's context from archived programs: shared by the evolution loop (which asks
// the LLM) and `kevo prompt` (which shows what the loop would send), so both show the same text.
#pragma once

#include <vector>

#include "archive/archive.h"
#include "evaluator/config.h"
#include "evaluator/gpu_info.h"
#include "orchestrator/evolution/prompt.h"

namespace kevo {

// A program as prompts show it and LLM edits apply to: its params written into its kevo:param
// lines (so `params` comes back empty), its result read from the stored JSON.
ProgramInfo shown_program(const Program& p);

// The run's limits and suite, as the task text states them.
TaskFacts task_facts(const EvaluatorConfig& c);
HardwareFacts hardware_facts(const GpuInfo& g);

// Earlier children of a parent that failed, newest first, as the prompt lists them.
std::vector<FailedTry> failed_tries(const std::vector<ProgramSummary>& children,
                                    const std::vector<std::string>& messages);

}  // namespace kevo
