// PlanExpr: a tiny recursive-descent parser and a checked 64-bit evaluator for the launch-plan
// expressions of `kevo:` directives. Candidates are written by an LLM, so every failure (a stray
// character, division by zero, overflow) is a message, never UB.
#include <cctype>
#include <cstdint>
#include <set>

#include "evaluator/task.h"

namespace kevo {

struct PlanExpr::Node {
  enum Kind { kNumber, kVariable, kNegate, kBinary, kCall } kind = kNumber;
  int64_t value = 0;
  std::string name;  // variable or function name
  char op = 0;       // + - * / %
  std::vector<std::shared_ptr<const Node>> kids;
};

namespace {

using NodePtr = std::shared_ptr<const PlanExpr::Node>;
using Node = PlanExpr::Node;

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  Result<NodePtr> parse_all() {
    auto e = expr();
    if (!e.ok()) return e;
    skip_space();
    if (pos_ != s_.size()) return error("unexpected '" + std::string(1, s_[pos_]) + "'");
    return e;
  }

 private:
  Status error(const std::string& what) const {
    return Status::InvalidArgument("in '" + s_ + "' at column " + std::to_string(pos_ + 1) + ": " +
                                   what);
  }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  static NodePtr binary(char op, NodePtr a, NodePtr b) {
    auto n = std::make_shared<Node>();
    n->kind = Node::kBinary;
    n->op = op;
    n->kids = {std::move(a), std::move(b)};
    return n;
  }

  // Depth guard: a pathological "((((..." must not overflow the stack of a compile worker.
  static constexpr int kMaxDepth = 64;

  // A comparison (< <= > >= == !=, 1 when true, 0 when false) binds loosest and does not chain:
  // `cdiv(N, CH) * (N > DENSE_N)` launches a kernel only above a crossover (a grid of 0 is not
  // launched). The same text is valid C++ with the same value, which the export relies on.
  Result<NodePtr> expr() {
    if (++depth_ > kMaxDepth) return error("expression nested too deeply");
    KEVO_ASSIGN_OR_RETURN(NodePtr lhs, sum());
    --depth_;
    char op = comparison_op();
    if (op == 0) return lhs;
    KEVO_ASSIGN_OR_RETURN(NodePtr rhs, sum());
    if (comparison_op() != 0) return error("comparisons do not chain: use parentheses");
    return binary(op, lhs, rhs);
  }

  // Reads a comparison operator if one is next: '<' '>' 'l' (<=) 'g' (>=) '=' (==) '!' (!=).
  char comparison_op() {
    skip_space();
    if (pos_ >= s_.size()) return 0;
    const char c = s_[pos_];
    const bool eq = pos_ + 1 < s_.size() && s_[pos_ + 1] == '=';
    if (c == '<' || c == '>') {
      pos_ += eq ? 2 : 1;
      return eq ? (c == '<' ? 'l' : 'g') : c;
    }
    if ((c == '=' || c == '!') && eq) {
      pos_ += 2;
      return c;
    }
    return 0;
  }

  Result<NodePtr> sum() {
    if (++depth_ > kMaxDepth) return error("expression nested too deeply");
    KEVO_ASSIGN_OR_RETURN(NodePtr lhs, term());
    while (true) {
      skip_space();
      if (pos_ >= s_.size() || (s_[pos_] != '+' && s_[pos_] != '-')) break;
      char op = s_[pos_++];
      KEVO_ASSIGN_OR_RETURN(NodePtr rhs, term());
      lhs = binary(op, lhs, rhs);
    }
    --depth_;
    return lhs;
  }

  Result<NodePtr> term() {
    KEVO_ASSIGN_OR_RETURN(NodePtr lhs, unary());
    while (true) {
      skip_space();
      if (pos_ >= s_.size() || (s_[pos_] != '*' && s_[pos_] != '/' && s_[pos_] != '%')) break;
      char op = s_[pos_++];
      KEVO_ASSIGN_OR_RETURN(NodePtr rhs, unary());
      lhs = binary(op, lhs, rhs);
    }
    return lhs;
  }

  Result<NodePtr> unary() {
    if (eat('-')) {
      if (++depth_ > kMaxDepth) return error("expression nested too deeply");
      KEVO_ASSIGN_OR_RETURN(NodePtr inner, unary());
      --depth_;
      auto n = std::make_shared<Node>();
      n->kind = Node::kNegate;
      n->kids = {inner};
      return NodePtr(n);
    }
    if (eat('+')) return unary();
    return primary();
  }

  Result<NodePtr> primary() {
    skip_space();
    if (pos_ >= s_.size()) return error("expected a number, a name or '(' but the expression ended");
    char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      KEVO_ASSIGN_OR_RETURN(NodePtr inner, expr());
      if (!eat(')')) return error("expected ')'");
      return inner;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) return number();
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') return name();
    return error("unexpected '" + std::string(1, c) + "'");
  }

  Result<NodePtr> number() {
    int64_t v = 0;
    size_t start = pos_;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s_[pos_] - '0', &v)) {
        pos_ = start;
        return error("number too large for 64 bits");
      }
      ++pos_;
    }
    if (pos_ < s_.size() && (std::isalpha(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
      return error("only plain decimal integers are allowed");
    }
    auto n = std::make_shared<Node>();
    n->kind = Node::kNumber;
    n->value = v;
    return NodePtr(n);
  }

  Result<NodePtr> name() {
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
      ++pos_;
    }
    std::string id = s_.substr(start, pos_ - start);
    auto n = std::make_shared<Node>();
    n->name = id;
    bool is_function = id == "cdiv" || id == "min" || id == "max";
    if (!is_function) {
      skip_space();
      if (pos_ < s_.size() && s_[pos_] == '(') {
        return error("unknown function '" + id + "' (functions: cdiv, min, max)");
      }
      n->kind = Node::kVariable;
      return NodePtr(n);
    }
    if (!eat('(')) return error("expected '(' after " + id);
    n->kind = Node::kCall;
    do {
      KEVO_ASSIGN_OR_RETURN(NodePtr arg, expr());
      n->kids.push_back(arg);
    } while (eat(','));
    if (!eat(')')) return error("expected ',' or ')' in the arguments of " + id);
    if (id == "cdiv" && n->kids.size() != 2) return error("cdiv takes exactly 2 arguments");
    if (id != "cdiv" && n->kids.size() < 2) return error(id + " takes at least 2 arguments");
    return NodePtr(n);
  }

  const std::string& s_;
  size_t pos_ = 0;
  int depth_ = 0;
};

Status overflow(const std::string& text) {
  return Status::InvalidArgument("'" + text + "' overflows 64-bit integers");
}

Result<int64_t> eval_node(const Node& n, const std::map<std::string, int64_t>& vars,
                          const std::string& text) {
  switch (n.kind) {
    case Node::kNumber:
      return n.value;
    case Node::kVariable: {
      auto it = vars.find(n.name);
      if (it == vars.end()) {
        return Status::InvalidArgument("unknown variable '" + n.name + "' in '" + text + "'");
      }
      return it->second;
    }
    case Node::kNegate: {
      KEVO_ASSIGN_OR_RETURN(int64_t v, eval_node(*n.kids[0], vars, text));
      int64_t out;
      if (__builtin_sub_overflow(int64_t{0}, v, &out)) return overflow(text);
      return out;
    }
    case Node::kBinary: {
      KEVO_ASSIGN_OR_RETURN(int64_t a, eval_node(*n.kids[0], vars, text));
      KEVO_ASSIGN_OR_RETURN(int64_t b, eval_node(*n.kids[1], vars, text));
      int64_t out = 0;
      bool bad = false;
      switch (n.op) {
        case '+': bad = __builtin_add_overflow(a, b, &out); break;
        case '-': bad = __builtin_sub_overflow(a, b, &out); break;
        case '*': bad = __builtin_mul_overflow(a, b, &out); break;
        case '/':
        case '%':
          if (b == 0) return Status::InvalidArgument("division by zero in '" + text + "'");
          if (a == INT64_MIN && b == -1) return overflow(text);
          out = n.op == '/' ? a / b : a % b;
          break;
        case '<':
          out = a < b;
          break;
        case '>':
          out = a > b;
          break;
        case 'l':
          out = a <= b;
          break;
        case 'g':
          out = a >= b;
          break;
        case '=':
          out = a == b;
          break;
        case '!':
          out = a != b;
          break;
      }
      if (bad) return overflow(text);
      return out;
    }
    case Node::kCall: {
      std::vector<int64_t> args;
      for (const auto& k : n.kids) {
        KEVO_ASSIGN_OR_RETURN(int64_t v, eval_node(*k, vars, text));
        args.push_back(v);
      }
      if (n.name == "cdiv") {
        int64_t a = args[0], b = args[1];
        if (b == 0) return Status::InvalidArgument("division by zero (cdiv) in '" + text + "'");
        if (a == INT64_MIN && b == -1) return overflow(text);
        int64_t q = a / b;
        if (a % b != 0 && ((a < 0) == (b < 0))) ++q;  // round towards +infinity
        return q;
      }
      int64_t best = args[0];
      for (int64_t v : args) best = n.name == "min" ? std::min(best, v) : std::max(best, v);
      return best;
    }
  }
  return Status::Internal("bad plan expression node");
}

void collect_variables(const Node& n, std::set<std::string>& out) {
  if (n.kind == Node::kVariable) out.insert(n.name);
  for (const auto& k : n.kids) collect_variables(*k, out);
}

}  // namespace

Result<PlanExpr> PlanExpr::parse(const std::string& text) {
  Parser p(text);
  KEVO_ASSIGN_OR_RETURN(NodePtr root, p.parse_all());
  PlanExpr e;
  e.text_ = text;
  e.root_ = std::move(root);
  return e;
}

Result<int64_t> PlanExpr::eval(const std::map<std::string, int64_t>& vars) const {
  if (!root_) return Status::InvalidArgument("empty plan expression");
  return eval_node(*root_, vars, text_);
}

std::vector<std::string> PlanExpr::variables() const {
  std::set<std::string> names;
  if (root_) collect_variables(*root_, names);
  return {names.begin(), names.end()};
}

}  // namespace kevo
