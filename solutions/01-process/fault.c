/* fault.c: the seam through which tests make a system call of the library fail. */
#include <mp.h>

#include "fault.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define MAX_FAULTS 8 /* a test arms one or two; a few more leave room */

static struct {
	const char *call; /* NULL: this slot is free */
	int skip;         /* calls still to let through */
	int err;          /* the errno the failing call reports */
} faults[MAX_FAULTS];

bool mp__faults_armed;

int mp_fault_inject(const char *call, int skip, int err)
{
	if (!call || skip < 0 || err <= 0)
		return -EINVAL;
	int free_slot = -1;
	for (int i = 0; i < MAX_FAULTS; i++) {
		if (faults[i].call && strcmp(faults[i].call, call) == 0) {
			free_slot = i; /* arming it again replaces the old fault */
			break;
		}
		if (!faults[i].call && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return -ENOSPC;
	faults[free_slot].call = call;
	faults[free_slot].skip = skip;
	faults[free_slot].err = err;
	mp__faults_armed = true;
	return 0;
}

void mp_fault_clear(void)
{
	memset(faults, 0, sizeof faults);
	mp__faults_armed = false;
}

bool mp__fault_due(const char *call)
{
	for (int i = 0; i < MAX_FAULTS; i++) {
		if (!faults[i].call || strcmp(faults[i].call, call) != 0)
			continue;
		if (faults[i].skip > 0) {
			faults[i].skip--;
			return false;
		}
		errno = faults[i].err;
		faults[i].call = NULL; /* a fault fires once */
		return true;
	}
	return false;
}
