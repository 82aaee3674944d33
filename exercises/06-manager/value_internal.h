/* value_internal.h: the inside of a value, shared by the files of stage 06 (internal). */
#ifndef MP_VALUE_INTERNAL_H
#define MP_VALUE_INTERNAL_H

#include <mp.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_value {
	mp_value_kind kind;
	uint32_t height; /* 0 for anything but a container; 1 + its tallest item's for one */
	bool copied;     /* the pickle decoder handed out a copy of it (pickle_load.c) */
	mp_object_form form; /* an object's: its items are module, name, args, state (seq below) */
	union {
		bool b;    /* bool */
		int64_t i; /* int */
		double d;  /* float */
		struct {
			char *data; /* len bytes, then a NUL that is not counted */
			size_t len;
		} s; /* str (valid UTF-8) and bytes */
		struct {
			mp_value **items;
			size_t len, cap; /* a tuple's cap is its len */
		} seq; /* tuple, list and object */
		struct {
			mp_value **keys, **values; /* pairs in insertion order */
			uint64_t *hashes;          /* of each key */
			size_t len, cap;
			uint32_t *slots; /* open addressing: 0 empty, else 1 + a pair's index */
			size_t nslots;   /* a power of two, at least twice len; 0 before the first pair */
		} map; /* dict */
	};
};

/* A value of @kind with nothing in it yet (a container of no items), or NULL. */
mp_value *mp__value_new(mp_value_kind kind);

/*
 * mp_value_dict_set(), except that a key already there leaves the new key and
 * the old value in @displaced (else NULLs) for the caller to free: the pickle
 * decoder's memo may still point at them.
 */
int mp__value_dict_put(mp_value *dict, mp_value *key, mp_value *value, mp_value *displaced[2]);

/* Python's hash(), as far as equality needs: equal values hash the same. @v must be hashable. */
uint64_t mp__value_hash(const mp_value *v);

/* Whether the @len bytes at @s are UTF-8 as Python's strict codec reads it. */
bool mp__utf8_valid(const unsigned char *s, size_t len);

#endif
