/**
 * @file mp.h
 * @brief Python's `multiprocessing`, in C: the one header to include.
 *
 * Every function in the library follows one convention: it returns 0 (or a
 * non-negative count or descriptor) on success, and a negative error code on
 * failure. The codes are either a negated `errno` value (`-ENOMEM`, `-EINVAL`)
 * for failures that come straight from the system, or one of the library's own
 * `MP_E…` codes. mp_strerror() turns any of them into a sentence.
 *
 * Timeouts are in seconds, as a `double`; ::MP_FOREVER (any negative value)
 * means "wait as long as it takes", and 0 means "do not wait at all".
 */
#ifndef MP_H
#define MP_H

#include "mp/error.h"
#include "mp/fault.h"
#include "mp/target.h"
#include "mp/process.h"
#include "mp/queue.h"
#include "mp/connection.h"
#include "mp/listener.h"
#include "mp/sync.h"
#include "mp/shared.h"
#include "mp/pool.h"
#include "mp/value.h"
#include "mp/pickle.h"
#include "mp/manager.h"

#endif
