// The suites known to the registry in tasks.cpp; each lives in its own tasks_<name>.cpp.
#pragma once

#include "eval/tasks.h"

namespace tc::eval {

const TaskSuite& task_suite_chain();
const TaskSuite& task_suite_arith();
const TaskSuite& task_suite_maze();
const TaskSuite& task_suite_sum();

}  // namespace tc::eval
