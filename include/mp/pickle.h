/**
 * @file pickle.h
 * @brief A data-only pickle codec: the values of value.h to and from the
 *        bytes CPython's `pickle` reads and writes, without ever running code.
 *
 * The decoder reads protocols 2 to 5 (and the binary opcodes of protocol 1),
 * as far as they carry data: None, bools, ints (within 64 bits), floats,
 * str, bytes, tuples, lists and dicts, with frames and the memo. Every opcode
 * that names a class or a function, or calls one (`GLOBAL`, `STACK_GLOBAL`,
 * `REDUCE`, `NEWOBJ`, `NEWOBJ_EX`, `BUILD`, `INST`, `OBJ`, `EXT1`, `EXT2`,
 * `EXT4`, `PERSID`, `BINPERSID`) is refused with `-EPERM`: such a pickle is
 * a program, and this decoder has no way to run one. Asked to
 * (mp_pickle_limits::describe_objects), it describes the common forms of
 * them instead, as inert values, and still runs nothing. Data it does not carry
 * (sets, bytearrays, out-of-band buffers, the text opcodes of protocol 0, the
 * stack moves POP, DUP and POP_MARK, a list or dict that holds itself) is
 * refused with `-ENOTSUP`. Either way, the error names the opcode and where
 * it stands.
 *
 * Every length is checked against the bytes that remain before anything is
 * allocated, and the limits below bound the nesting, the memo and the total
 * work, so a small input cannot make the decoder allocate much more than its
 * own size.
 *
 * The encoder writes what CPython's `pickle.dumps(value, protocol=4)` writes
 * (an ::MP_VALUE_OBJECT as CPython writes the object it describes),
 * byte for byte for values that hold no object twice (CPython writes a
 * repeated object once, then refers to it: a C value tree has no such
 * sharing).
 */
#ifndef MP_PICKLE_H
#define MP_PICKLE_H

#include "value.h"

#include <stddef.h>

/** What one decode may spend, and take. A field of 0 (or false) takes its default. */
typedef struct mp_pickle_limits {
	size_t max_depth;  /**< containers inside containers, and open MARKs (default 200) */
	size_t max_memo;   /**< memo indices allowed: 0 to max_memo - 1 (default 1 << 20) */
	size_t max_values; /**< values made, copies from the memo included (default 1 << 20) */
	size_t max_bytes;  /**< bytes of str and bytes made, copies included (default: the input's length + 64 MiB) */
	/**
	 * Describe, instead of refusing, what names a class or calls one, as the
	 * ::MP_VALUE_OBJECT values of value.h: GLOBAL and STACK_GLOBAL give a
	 * name, REDUCE and NEWOBJ on a name give a call, BUILD gives a call its
	 * state. Nothing is looked up or run, so the result is as safe as any
	 * other value; only a program that trusts a name's meaning may act on
	 * it (a manager's client reads an `#ERROR` reply's exception so). The
	 * other code opcodes are still refused, and so is a call of anything but
	 * a name, or a state given to anything but a call (`-ENOTSUP`).
	 */
	bool describe_objects;
} mp_pickle_limits;

/** Why a decode failed, for a person to read. */
typedef struct mp_pickle_error {
	int code;          /**< what mp_pickle_loads() returned */
	size_t offset;     /**< where the opcode that failed starts in the input */
	int opcode;        /**< that opcode's byte, or -1 when the input ended first */
	char message[160]; /**< e.g. "GLOBAL at offset 2 names a class or function ('posix system'): refused" */
} mp_pickle_error;

/**
 * Decode one pickle.
 * @param data the pickle; the decoder stops at its STOP and ignores what follows.
 * @param len its length in bytes.
 * @param out receives the value, to free with mp_value_free(); left untouched on failure.
 * @param limits the bounds, or NULL for the defaults.
 * @param err receives why it failed (may be NULL); set on failure only.
 * @return 0;
 *         `-EPERM` for an opcode that names or calls code;
 *         `-ENOTSUP` for data this decoder does not carry (a container that
 *         holds itself among it), or a protocol above 5;
 *         `-ERANGE` for an integer beyond 64 bits;
 *         `-E2BIG` when a limit is passed;
 *         `MP_EBADMSG` for anything malformed: an unknown opcode, a length past
 *         the end, the end before STOP, a missing MARK, items of the wrong kind,
 *         a string that is not UTF-8, an unhashable key, a memo index never set;
 *         `-ENOMEM`; `-EINVAL` for a NULL @p out (or NULL @p data with a length).
 */
int mp_pickle_loads(const void *data, size_t len, mp_value **out, const mp_pickle_limits *limits,
		    mp_pickle_error *err);

/**
 * Encode a value as CPython's `pickle.dumps(value, protocol=4)` does.
 * @param v the value.
 * @param out receives the bytes, to free(); left untouched on failure.
 * @param len receives their length; left untouched on failure.
 * @return 0; `-EINVAL` for a NULL argument; `-E2BIG` for a value nested more
 *         than 200 deep (CPython's own pickler stops near 1000, and its
 *         unpickler by default trusts no deeper a pickle than that);
 *         `-ENOMEM`.
 */
int mp_pickle_dumps(const mp_value *v, void **out, size_t *len);

/**
 * The name of a pickle opcode, as `pickletools` names it.
 * @param opcode a byte.
 * @return "PROTO", "GLOBAL", ...; NULL for a byte that is no opcode.
 */
const char *mp_pickle_opcode_name(int opcode);

#endif
