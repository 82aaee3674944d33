/**
 * @file value.h
 * @brief Python's data in C: none, bool, int, float, str, bytes, tuple, list
 *        and dict, the values a manager keeps and a pickle carries; and the
 *        description of an object a pickle names (an exception, say).
 *
 * A value is an opaque, heap-allocated tree: each container owns its items,
 * and mp_value_free() frees a value with everything in it. A value is never
 * shared between two containers (mp_value_copy() makes a second one).
 *
 * The constructors read best nested, so they differ from the rest of the
 * library on purpose: each returns the new value, or NULL when memory runs
 * out (or, for a string, when the bytes are not UTF-8). The functions that
 * put a value into a container *take* it, on success and failure alike, and
 * accept NULL for it (then answering `-ENOMEM`), so that
 * `mp_value_list_append(l, mp_value_str("a"))` can neither leak nor need a
 * check in between.
 *
 * Integers are 64-bit. Python's are unbounded: a larger one cannot be made
 * here, and the pickle decoder refuses it with `-ERANGE` (pickle.h).
 * Equality and dict keys follow Python's `==`: `1`, `1.0` and `True` are
 * equal, so they are the same key; lists and dicts cannot be keys.
 */
#ifndef MP_VALUE_H
#define MP_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A value: see the file's description. */
typedef struct mp_value mp_value;

/** The kinds of value, named after their Python types. */
typedef enum mp_value_kind {
	MP_VALUE_NONE,  /**< `None` */
	MP_VALUE_BOOL,  /**< `True` or `False` */
	MP_VALUE_INT,   /**< an `int` that fits in 64 bits */
	MP_VALUE_FLOAT, /**< a `float` (a C `double`) */
	MP_VALUE_STR,   /**< a `str`: UTF-8 bytes and their length (NUL allowed inside) */
	MP_VALUE_BYTES, /**< `bytes`: any bytes and their length */
	MP_VALUE_TUPLE, /**< a `tuple`: items fixed when it is made */
	MP_VALUE_LIST,  /**< a `list`: items appended one by one */
	MP_VALUE_DICT,  /**< a `dict`: key-value pairs in the order they were first set */
	MP_VALUE_OBJECT, /**< what a pickle makes by naming a class or calling one: only described (mp_value_object()) */
} mp_value_kind;

/** How a pickle makes an ::MP_VALUE_OBJECT. */
typedef enum mp_object_form {
	MP_OBJECT_NAME, /**< the class or function itself, by its name (GLOBAL, STACK_GLOBAL) */
	MP_OBJECT_CALL, /**< `module.name(*args)` (REDUCE): how an exception travels */
	MP_OBJECT_NEW,  /**< `module.name.__new__(module.name, *args)` (NEWOBJ): how most instances travel */
} mp_object_form;

/** @return `None`, or NULL if memory ran out. */
mp_value *mp_value_none(void);

/** @param b the truth value. @return `True` or `False`, or NULL if memory ran out. */
mp_value *mp_value_bool(bool b);

/** @param i the integer. @return an `int`, or NULL if memory ran out. */
mp_value *mp_value_int(int64_t i);

/** @param d the number (any double: infinities and NaN too). @return a `float`, or NULL if memory ran out. */
mp_value *mp_value_float(double d);

/**
 * A `str` from a NUL-terminated UTF-8 string.
 * @param s the text; copied.
 * @return the value, or NULL if @p s is NULL, is not UTF-8, or memory ran out.
 */
mp_value *mp_value_str(const char *s);

/**
 * A `str` from @p len bytes of UTF-8, which may hold NUL bytes.
 * @param s the bytes; copied. May be NULL when @p len is 0.
 * @param len how many.
 * @return the value, or NULL if the bytes are not UTF-8 (surrogates, overlong
 *         forms and code points above U+10FFFF are not), or memory ran out.
 */
mp_value *mp_value_strn(const char *s, size_t len);

/**
 * `bytes`.
 * @param data the bytes; copied. May be NULL when @p len is 0.
 * @param len how many.
 * @return the value, or NULL if memory ran out.
 */
mp_value *mp_value_bytes(const void *data, size_t len);

/**
 * A `tuple` of @p n items, which it takes.
 * @param n how many items follow.
 * @param ... @p n `mp_value *`.
 * @return the tuple, or NULL if any item is NULL or memory ran out; then every
 *         item given has been freed.
 */
mp_value *mp_value_tuple_of(size_t n, ...);

/**
 * A `tuple` of the @p n items of @p items, which it takes (the array itself stays the caller's).
 * @param items the items; may be NULL when @p n is 0.
 * @param n how many.
 * @return the tuple, or NULL if any item is NULL or memory ran out; then every
 *         item has been freed.
 */
mp_value *mp_value_tuple_from(mp_value **items, size_t n);

/**
 * A `list` of @p n items, which it takes.
 * @param n how many items follow (0 for an empty list).
 * @param ... @p n `mp_value *`.
 * @return the list, or NULL if any item is NULL or memory ran out; then every
 *         item given has been freed.
 */
mp_value *mp_value_list_of(size_t n, ...);

/** @return an empty `dict`, or NULL if memory ran out. */
mp_value *mp_value_dict_new(void);

/**
 * Append @p item to @p list, as Python's `list.append`.
 * @param list a list.
 * @param item taken, whatever happens.
 * @return 0; `-EINVAL` if @p list is not a list or is @p item itself; `-ENOMEM`
 *         (also for a NULL @p item). On failure @p list is unchanged and
 *         @p item has been freed.
 */
int mp_value_list_append(mp_value *list, mp_value *item);

/**
 * `dict[key] = value`: a key equal to one already there keeps that key and its
 * place, and replaces its value, as in Python.
 * @param dict a dict.
 * @param key taken, whatever happens; must be hashable (mp_value_hashable()).
 * @param value taken, whatever happens.
 * @return 0; `-EINVAL` if @p dict is not a dict or @p key is not hashable;
 *         `-ENOMEM` (also for a NULL @p key or @p value). On failure @p dict
 *         is unchanged and both @p key and @p value have been freed.
 */
int mp_value_dict_set(mp_value *dict, mp_value *key, mp_value *value);

/**
 * Insert @p item before index @p i of a list, or at its end when @p i is
 * past it (Python's `list.insert()`); takes @p item.
 * @return 0; `-EINVAL` if @p list is not a list (or is @p item); `-ENOMEM`, also for a NULL @p item.
 */
int mp_value_list_insert(mp_value *list, size_t i, mp_value *item);

/**
 * Replace item @p i of a list (Python's `l[i] = x`), freeing the one there; takes @p item.
 * @return 0; `-EINVAL` if @p list is not a list (or is @p item) or @p i is out of range; `-ENOMEM` for a NULL @p item.
 */
int mp_value_list_set(mp_value *list, size_t i, mp_value *item);

/**
 * Remove item @p i of a list (Python's `l.pop(i)`); the others keep their order.
 * @return the item, now the caller's; NULL if @p list is not a list or @p i is out of range.
 */
mp_value *mp_value_list_take(mp_value *list, size_t i);

/**
 * Remove the pair of @p key from a dict (Python's `d.pop(k)`); the others keep their order.
 * @param dict a dict.
 * @param key the key to look for (not taken).
 * @return the value, now the caller's (the dict's key is freed); NULL if @p dict is not a dict
 *         or has no such key.
 */
mp_value *mp_value_dict_take(mp_value *dict, const mp_value *key);

/**
 * The description of an object as a pickle makes it: `module.name`, called
 * with @p args, then given @p state (Python's `__setstate__`, or an update
 * of its `__dict__`: pickle's BUILD). Nothing here looks a name up or runs
 * anything: the value is as inert as a tuple, and stands for the object only
 * where a program agrees on what the name means (a manager's `#ERROR` reply
 * carries `builtins.KeyError('missing')` so). mp_value_item() reads it back:
 * item 0 is the module and item 1 the name (both str), item 2 the arguments
 * (a tuple; None for ::MP_OBJECT_NAME), item 3 the state (None for none).
 * @param form how it is made.
 * @param module where the name lives, as "builtins"; copied.
 * @param name the class or function, as "KeyError"; copied.
 * @param args a tuple, taken; NULL for ::MP_OBJECT_NAME.
 * @param state taken; NULL for none (also the only choice for ::MP_OBJECT_NAME).
 * @return the object, or NULL: no memory, a name that is empty or not UTF-8,
 *         @p args missing or not a tuple, or given with ::MP_OBJECT_NAME.
 */
mp_value *mp_value_object(mp_object_form form, const char *module, const char *name, mp_value *args,
			  mp_value *state);

/** @param v an ::MP_VALUE_OBJECT. @return how it is made; ::MP_OBJECT_NAME for NULL or another kind. */
mp_object_form mp_value_object_form(const mp_value *v);

/** Free @p v and everything in it. Accepts NULL. */
void mp_value_free(mp_value *v);

/**
 * A deep copy.
 * @param v the value to copy.
 * @return the copy, or NULL if @p v is NULL or memory ran out.
 */
mp_value *mp_value_copy(const mp_value *v);

/** @param v a value, not NULL. @return its kind. */
mp_value_kind mp_value_kind_of(const mp_value *v);

/** @param kind a kind. @return its Python name ("NoneType", "bool", "int", ... "dict"), "object", or "?" for no kind. */
const char *mp_value_kind_name(mp_value_kind kind);

/** @param v a value. @return its truth for a bool; false for NULL or any other kind. */
bool mp_value_as_bool(const mp_value *v);

/** @param v a value. @return its integer for an int (a bool gives 0 or 1); 0 for NULL or any other kind. */
int64_t mp_value_as_int(const mp_value *v);

/** @param v a value. @return its number for a float (an int or bool converted); 0 for NULL or any other kind. */
double mp_value_as_float(const mp_value *v);

/**
 * The bytes of a str or a bytes.
 * @param v a value.
 * @param len receives their length (0 when NULL is returned); may be NULL.
 * @return the bytes, always followed by a NUL that is not counted; NULL for
 *         NULL or any other kind.
 */
const char *mp_value_data(const mp_value *v, size_t *len);

/**
 * How many: items of a tuple or list, pairs of a dict, bytes of a str or
 * bytes; 4 for an object (see mp_value_object()).
 * @param v a value.
 * @return the count; 0 for NULL or any other kind.
 */
size_t mp_value_len(const mp_value *v);

/**
 * An item of a tuple, a list or an object (see mp_value_object()), still owned by it.
 * @param v a tuple, list or object.
 * @param i the index, from 0.
 * @return the item; NULL if @p v is of another kind or @p i is out of range.
 */
const mp_value *mp_value_item(const mp_value *v, size_t i);

/**
 * The @p i th pair of a dict, in insertion order, still owned by it.
 * @param v a dict.
 * @param i the index, from 0.
 * @param key receives the key (may be NULL).
 * @param value receives the value (may be NULL).
 * @return 0; `-EINVAL` if @p v is not a dict or @p i is out of range (then
 *         @p key and @p value are left untouched).
 */
int mp_value_dict_pair(const mp_value *v, size_t i, const mp_value **key, const mp_value **value);

/**
 * `dict[key]`, or NULL.
 * @param dict a dict.
 * @param key the key to look for (not taken).
 * @return the value, still owned by @p dict; NULL if @p dict is not a dict or
 *         has no key equal to @p key.
 */
const mp_value *mp_value_dict_get(const mp_value *dict, const mp_value *key);

/**
 * Python's `a == b`: numbers (bool, int, float) compare by value, a tuple
 * never equals a list, dicts compare without regard to order, NaN equals
 * nothing; two objects are equal when made alike from equal items.
 * @param a a value, or NULL.
 * @param b a value, or NULL.
 * @return whether they are equal (two NULLs are; NULL and a value are not).
 */
bool mp_value_equal(const mp_value *a, const mp_value *b);

/**
 * Whether @p v can be a dict key, as in Python: lists and dicts cannot, nor a
 * tuple holding one; nor an object, whose hash only Python could tell.
 * @param v a value.
 * @return true or false (false for NULL).
 */
bool mp_value_hashable(const mp_value *v);

/**
 * Python's `repr(v)`: `None`, `True`, `-3`, `0.1`, `1e+16`, `'a'`,
 * `"it's"`, `b'ab'`, `(1,)`, `[1, 2]`, `{'a': 1}`; an object as the code
 * that would make it: `builtins.KeyError('k')`, `mod.Token.__new__()`, with
 * `.__setstate__(state)` after it when it has a state, and `builtins.list`
 * alone for a name.
 *
 * Strings are escaped as Python escapes them for ASCII and for the control
 * characters U+0080 to U+00A0 and U+00AD; other non-ASCII characters are
 * written as they are, where Python would still escape a few more that
 * Unicode calls unprintable (U+2028, for one).
 *
 * @param v the value.
 * @param out receives a NUL-terminated string to free(); left untouched on failure.
 * @return 0; `-EINVAL` for a NULL @p v or @p out; `-ENOMEM`.
 */
int mp_value_repr(const mp_value *v, char **out);

#endif
