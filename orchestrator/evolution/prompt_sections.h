// The text of each prompt section (private to orchestrator/; see prompt.h). Kept apart from
// template handling so the wording of sections can change without touching the checks.
#pragma once

#include <map>
#include <string>

#include "orchestrator/evolution/prompt.h"

namespace kevo::prompt_sections {

std::string number(double v);  // "%.4g": enough digits to compare, few tokens
std::string hardware(const HardwareFacts& h);

// True for a metric or workload name that belongs to the holdout suite.
bool is_holdout(const std::string& name);
void drop_holdout(EvalResult& r);

// Values for every placeholder a program template (diff, rewrite, fix) may use.
std::map<std::string, std::string> program_values(const PromptContext& c, const PromptOptions& o);

}  // namespace kevo::prompt_sections
