/*
 * tasks.c: a task queue and a queue of results shared by four worker processes, the
 * classic "tasks to accomplish" tutorial (tasks.py): each worker takes tasks until none
 * is left, prints each, and puts a line saying who did it on the second queue.
 *
 * The queues are made before the workers start, so each child inherits them through
 * fork(). (The Python takes the task with a short timeout where the tutorial used
 * get_nowait(): a put in CPython is sent later, by a feeder thread, so a get_nowait()
 * right after the puts can find the queue empty. Here a put is in the kernel when put
 * returns, so the C would be right with a timeout of 0, too.)
 */
#include "../example.h"

#include <stdlib.h>
#include <unistd.h>

static mp_queue *tasks_to_accomplish, *tasks_that_are_done;

MP_TARGET(do_job)(const void *arg, size_t len)
{
	(void)arg, (void)len;
	char *task;
	while (mp_queue_get_str(tasks_to_accomplish, &task, 0.1) == 0) {
		printf("%s\n", task);
		char done[128];
		snprintf(done, sizeof done, "%s is done by %s", task, mp_process_name(mp_current_process()));
		check(mp_queue_put_str(tasks_that_are_done, done, MP_FOREVER));
		free(task);
		usleep(100 * 1000);
	}
	return 0;
}

int main(void)
{
	check(mp_queue_new(&tasks_to_accomplish, 0));
	check(mp_queue_new(&tasks_that_are_done, 0));
	for (int i = 0; i < 10; i++) {
		char task[32];
		snprintf(task, sizeof task, "Task no %d", i);
		check(mp_queue_put_str(tasks_to_accomplish, task, MP_FOREVER));
	}

	mp_process *processes[4];
	for (int w = 0; w < 4; w++) {
		check(mp_process_new(&processes[w], "do_job", NULL, 0));
		check(mp_process_start(processes[w]));
	}
	for (int w = 0; w < 4; w++) {
		check(mp_process_join(processes[w], MP_FOREVER));
		mp_process_free(processes[w]);
	}

	char *line;
	while (mp_queue_get_str(tasks_that_are_done, &line, 0) == 0) {
		printf("%s\n", line);
		free(line);
	}
	mp_queue_free(tasks_to_accomplish);
	mp_queue_free(tasks_that_are_done);
	return 0;
}
