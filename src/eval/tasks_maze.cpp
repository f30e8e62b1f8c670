// Suite `maze`: depth-first search with backtracking through a tree of rooms given in the
// prompt, once per target room; the answer is the path to every target.
//
// Prompt: one line per room listing the doors to its child rooms in the order they are tried
// ("-" for a dead end), in a random order of rooms, then the entrance and the targets:
//   b: d e
//   a: b c
//   d: -
//   ...
//   from a find g e
// Trace: one search per target, each from the entrance. Entering a room copies its prompt
// line and restates the path from the entrance; leaving a room that does not lead to the
// target goes back to its parent, copies the parent's prompt line again and takes the door
// after the one just explored:
//   search g
//   a: b c           enter: copy of the room's prompt line (a look-up into the prompt)
//   path a           the current path (the previous path line, plus the room)
//   go b             the first door
//   b: d e
//   path a b
//   go d
//   d: -             a dead end
//   path a b d
//   back b           the parent: the second-last room of the path
//   b: d e           its prompt line again (read again after the subtree's exploration)
//   path a b         the previous path line without its last room
//   after d go e     the door after the one just explored (the last room of the path before)
//   e: -
//   path a b e
//   back b
//   b: d e
//   path a b
//   after e none     no door left: back to the parent's parent
//   back a
//   ...
//   path a c g
//   found g: a c g   the target reached: the path is this search's result
//   search e
//   ...
// and after the last search "answer: a c g, a b e" (every found path, in target order).
//
// What a chain of thought of this kind keeps needing: the prompt line of every room the
// search enters, in every search and again each time the search comes back to it (the rooms
// near the entrance again and again, long after their last read); the target, read at every
// step; and every "found" line once more at the answer. Most of the trace, the exploration of
// subtrees that do not contain the target, is never needed again once it is backed out of:
// dead ends that a KV policy can drop.
//
// Why this layout: every long-range read is an induction copy of a line that starts with
// the same name and always continues the same way (a bare name starts a room line, a name
// after a space is a reference); everything else reads the line or few lines just above it
// (the path, the door after the one just explored) -- what a small transformer learns. (A
// first layout restated only the doors not yet tried, "back b: e", which made the copy depend
// on which of a room's earlier lines is the latest; a 1M-parameter pilot got it wrong often.)
#include <algorithm>
#include <string>
#include <vector>

#include "eval/tasks_suites.h"
#include "util/error.h"
#include "util/rng.h"

namespace tc::eval {
namespace {

struct Room {
  int name = 0;               // index into task_variable_names()
  int parent = -1;            // -1 for the entrance
  int depth = 0;              // the entrance is at depth 0
  std::vector<int> children;  // in the order the search tries them
};

char room_char(const std::vector<Room>& rooms, int room) { return task_variable_names()[rooms[size_t(room)].name]; }

void validate(const TaskParams& p) {
  const int64_t rooms = p.get("rooms");
  if (p.get("targets") > rooms - 1)
    TC_THROW("suite maze: targets=%lld, but only rooms-1 = %lld rooms besides the entrance", (long long)p.get("targets"),
             (long long)(rooms - 1));
  // A tree of `rooms` rooms in which no room has more than max_doors children and no room is
  // deeper than max_depth: a full tree of that shape must hold them all.
  int64_t capacity = 1, level = 1;
  for (int64_t d = 1; d <= p.get("max_depth") && capacity < rooms; ++d) {
    level *= p.get("max_doors");
    capacity += level;
  }
  if (capacity < rooms)
    TC_THROW("suite maze: rooms=%lld do not fit in a tree with max_doors=%lld and max_depth=%lld", (long long)rooms,
             (long long)p.get("max_doors"), (long long)p.get("max_depth"));
}

// A random tree: each room after the entrance opens from a random earlier room that still
// has a free door and is not at the depth limit.
std::vector<Room> make_tree(Rng& rng, int n_rooms, int max_doors, int max_depth) {
  std::vector<int> names(task_variable_names().size());
  for (size_t i = 0; i < names.size(); ++i) names[i] = int(i);
  for (size_t i = names.size(); i > 1; --i) std::swap(names[i - 1], names[rng.below(i)]);

  std::vector<Room> rooms(static_cast<size_t>(n_rooms));
  for (int r = 0; r < n_rooms; ++r) rooms[size_t(r)].name = names[size_t(r)];
  for (int r = 1; r < n_rooms; ++r) {
    std::vector<int> open;
    for (int q = 0; q < r; ++q)
      if (int(rooms[size_t(q)].children.size()) < max_doors && rooms[size_t(q)].depth < max_depth) open.push_back(q);
    // validate() guarantees a free door: a breadth-first fill of the same shape fits.
    int parent = open.empty() ? -1 : open[rng.below(open.size())];
    if (parent < 0) TC_THROW("internal error: maze: no free door for room %d", r);
    rooms[size_t(r)].parent = parent;
    rooms[size_t(r)].depth = rooms[size_t(parent)].depth + 1;
    rooms[size_t(parent)].children.push_back(r);
  }
  return rooms;
}

std::string door_list(const std::vector<Room>& rooms, const std::vector<int>& doors) {
  if (doors.empty()) return " -";
  std::string out;
  for (int c : doors) {
    out += ' ';
    out += room_char(rooms, c);
  }
  return out;
}

std::string path_text(const std::vector<Room>& rooms, const std::vector<int>& path) {
  std::string out;
  for (int r : path) {
    if (!out.empty()) out += ' ';
    out += room_char(rooms, r);
  }
  return out;
}

// The depth-first search for `target` from the entrance, written as the trace describes.
// Returns the path found.
std::vector<int> write_search(const std::vector<Room>& rooms, int target, std::string& out) {
  auto name = [&](int room) { return std::string(1, room_char(rooms, room)); };
  auto write_room = [&](int room) { out += name(room) + ":" + door_list(rooms, rooms[size_t(room)].children) + "\n"; };
  out += "search " + name(target) + "\n";
  std::vector<int> path = {0};
  std::vector<size_t> next_door = {0};  // per room on the path: the index of the next door to try
  write_room(0);
  out += "path " + path_text(rooms, path) + "\n";
  while (path.back() != target) {
    const int room = path.back();
    const std::vector<int>& doors = rooms[size_t(room)].children;
    size_t& next = next_door.back();
    if (next < doors.size()) {
      const int child = doors[next++];
      if (next == 1) out += "go " + name(child) + "\n";
      else out += "after " + name(doors[next - 2]) + " go " + name(child) + "\n";
      write_room(child);
      path.push_back(child);
      next_door.push_back(0);
      out += "path " + path_text(rooms, path) + "\n";
      continue;
    }
    if (!doors.empty()) out += "after " + name(doors.back()) + " none\n";
    // The room is exhausted: back to its parent.
    path.pop_back();
    next_door.pop_back();
    if (path.empty()) TC_THROW("internal error: maze: target not reachable");
    out += "back " + name(path.back()) + "\n";
    write_room(path.back());
    out += "path " + path_text(rooms, path) + "\n";
  }
  out += "found " + name(target) + ": " + path_text(rooms, path) + "\n";
  return path;
}

// One draw of a maze and its targets, written out.
TaskProblem draw_problem(Rng& rng, const TaskParams& p) {
  const int n_rooms = int(p.get("rooms")), n_targets = int(p.get("targets"));
  std::vector<Room> rooms = make_tree(rng, n_rooms, int(p.get("max_doors")), int(p.get("max_depth")));

  // Distinct targets, none of them the entrance.
  std::vector<int> candidates;
  for (int r = 1; r < n_rooms; ++r) candidates.push_back(r);
  for (int i = 0; i < n_targets; ++i)
    std::swap(candidates[size_t(i)], candidates[size_t(i) + rng.below(candidates.size() - size_t(i))]);
  std::vector<int> targets(candidates.begin(), candidates.begin() + n_targets);

  std::vector<int> order(static_cast<size_t>(n_rooms));
  for (int r = 0; r < n_rooms; ++r) order[size_t(r)] = r;
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);

  TaskProblem problem;
  for (int r : order) {
    problem.prompt += room_char(rooms, r);
    problem.prompt += ':';
    problem.prompt += door_list(rooms, rooms[size_t(r)].children) + "\n";
  }
  problem.prompt += "from ";
  problem.prompt += room_char(rooms, 0);
  problem.prompt += " find";
  for (int t : targets) {
    problem.prompt += ' ';
    problem.prompt += room_char(rooms, t);
  }
  problem.prompt += '\n';

  std::string thinking;
  for (int t : targets) {
    std::vector<int> path = write_search(rooms, t, thinking);
    if (!problem.answer.empty()) problem.answer += ", ";
    problem.answer += path_text(rooms, path);
  }
  problem.trace = task_format_trace(thinking, problem.answer);
  return problem;
}

// How long a search takes depends on where its targets lie, so a problem is drawn again (up
// to kMaxDraws times, from the same stream) until its sequence (prompt + trace + EOS, in the
// testbed tokenizer's tokens) is at most max_length and its prompt at most max_prompt_percent
// of it; if no draw qualifies (parameters that cannot, e.g. small mazes), the last one is used.
constexpr int kMaxDraws = 64;

TaskProblem generate(uint64_t seed, uint64_t index, const TaskParams& p) {
  Rng rng = Rng::derive(seed, index);
  const int64_t max_length = p.get("max_length"), max_percent = p.get("max_prompt_percent");
  TaskProblem problem;
  for (int draw = 0; draw < kMaxDraws; ++draw) {
    problem = draw_problem(rng, p);
    const int64_t prompt = task_text_tokens(problem.prompt);
    const int64_t length = prompt + task_text_tokens(problem.trace) + 1;
    if ((max_length == 0 || length <= max_length) && prompt * 100 <= max_percent * length) break;
  }
  problem.suite = "maze";
  problem.id = "maze-s" + std::to_string(seed) + "-" + std::to_string(index);
  return problem;
}

}  // namespace

const TaskSuite& task_suite_maze() {
  static const TaskSuite suite = {
      "maze",
      "depth-first search with backtracking through a tree of rooms, one search per target; answer: the paths",
      {
          {"rooms", 40, 2, 52, "rooms in the maze (a tree; the entrance is its root)"},
          {"targets", 4, 1, 51, "rooms to find, one depth-first search from the entrance each"},
          {"max_doors", 3, 1, 51, "most doors out of one room (children in the tree)"},
          {"max_depth", 12, 1, 51, "deepest room (the entrance is at depth 0)"},
          {"max_length", 4000, 0, 1000000,
           "redraw (up to 64 times) a problem whose prompt + trace + EOS exceeds this many tokens (0: no limit)"},
          {"max_prompt_percent", 10, 1, 100, "redraw (up to 64 times) a problem whose prompt is a larger share of it"},
      },
      validate,
      generate,
      task_check_answer_line,
  };
  return suite;
}

}  // namespace tc::eval
