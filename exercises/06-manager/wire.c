/* wire.c: a manager's messages: requests (ident, method, args, kwds) and the three kinds of reply, as pickles. */
#define _GNU_SOURCE /* vasprintf() */
#include "manager_internal.h"
#include "value_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mp__wire_send(mp_conn *conn, mp_value *v)
{
	if (!v)
		return -ENOMEM;
	void *bytes;
	size_t len;
	int rc = mp_pickle_dumps(v, &bytes, &len);
	mp_value_free(v);
	if (rc < 0)
		return rc;
	rc = mp_conn_send_bytes(conn, bytes, len);
	free(bytes);
	return rc;
}

/* A str's text, or NULL for anything else. */
static const char *text_of(const mp_value *v)
{
	return v && mp_value_kind_of(v) == MP_VALUE_STR ? mp_value_data(v, NULL) : NULL;
}

int mp__request_receive(mp_conn *conn, struct request *r, char *why, size_t whylen)
{
	*r = (struct request){ 0 };
	void *bytes;
	size_t len;
	int rc = mp_conn_recv_bytes(conn, &bytes, &len);
	if (rc < 0)
		return rc;
	/* Requests are data: a class named in one is refused, never described, never run. */
	mp_pickle_error err;
	rc = mp_pickle_loads(bytes, len, &r->tuple, NULL, &err);
	free(bytes);
	if (rc < 0) {
		snprintf(why, whylen, "the request could not be read: %s", err.message);
		return MP_ETYPE;
	}
	/* TODO: your code goes here.
	 * Hint: a request is a tuple of 4: the ident (a str, or None for a
	 * control request), the method's name (a str), the arguments (a
	 * tuple) and the keyword arguments (a dict). Fill r->ident (NULL for
	 * None), r->method, r->args and r->kwds with pointers into r->tuple
	 * (mp_value_item(), mp_value_data()); anything else is MP_ETYPE,
	 * with *why saying what was wrong (the tuple stays in r, for
	 * mp__request_free()). Lesson 06, "The manager's protocol".
	 */
	snprintf(why, whylen, "not parsed yet"); return MP_ETODO;
}

void mp__request_free(struct request *r)
{
	mp_value_free(r->tuple);
	*r = (struct request){ 0 };
}

mp_value *mp__reply_return(mp_value *value)
{
	return mp_value_tuple_of(2, mp_value_str("#RETURN"), value);
}

mp_value *mp__reply_error(const char *module, const char *exception, mp_value *args)
{
	/* As CPython pickles an exception: its class by name, called with its arguments (pickle.h). */
	mp_value *e = args ? mp_value_object(MP_OBJECT_CALL, module, exception, args, NULL) : NULL;
	return mp_value_tuple_of(2, mp_value_str("#ERROR"), e);
}

mp_value *mp__str_vprintf(const char *fmt, va_list ap)
{
	char *text = NULL;
	if (vasprintf(&text, fmt, ap) < 0)
		return NULL;
	mp_value *v = mp_value_str(text);
	free(text);
	return v;
}

mp_value *mp__reply_traceback(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mp_value *text = mp__str_vprintf(fmt, ap);
	va_end(ap);
	return mp_value_tuple_of(2, mp_value_str("#TRACEBACK"), text);
}

/* What Python's str() of an exception is: "" for no argument, the one argument as str() has it, else the tuple's repr. */
static void describe_args(const mp_value *args, bool key_error, char *out, size_t size)
{
	char *repr = NULL;
	const mp_value *one = mp_value_len(args) == 1 ? mp_value_item(args, 0) : NULL;
	if (one && text_of(one) && !key_error) /* (a KeyError shows its key as a repr: KeyError: 'k') */
		snprintf(out, size, "%s", text_of(one));
	else if (mp_value_len(args) == 0 || mp_value_repr(one ? one : args, &repr) < 0)
		out[0] = '\0';
	else
		snprintf(out, size, "%s", repr);
	free(repr);
}

int mp__reply_read(mp_value *v, mp_value **result, mp_remote_error *err)
{
	mp_remote_error scratch;
	if (!err)
		err = &scratch;
	const char *kind = text_of(mp_value_item(v, 0));
	if (mp_value_kind_of(v) != MP_VALUE_TUPLE || mp_value_len(v) != 2 || !kind)
		return MP_EBADMSG;
	const mp_value *value = mp_value_item(v, 1);
	if (strcmp(kind, "#RETURN") == 0) {
		/* Taken out of the reply, not copied: it may be large. */
		*result = v->seq.items[1];
		v->seq.items[1] = NULL;
		return 0;
	}
	if (strcmp(kind, "#ERROR") == 0 && mp_value_kind_of(value) == MP_VALUE_OBJECT) {
		const char *module = text_of(mp_value_item(value, 0)), *name = text_of(mp_value_item(value, 1));
		if (strcmp(module, "builtins") == 0)
			snprintf(err->type, sizeof err->type, "%s", name);
		else
			snprintf(err->type, sizeof err->type, "%s.%s", module, name);
		describe_args(mp_value_item(value, 2), strcmp(name, "KeyError") == 0, err->message, sizeof err->message);
		return MP_EREMOTE;
	}
	if ((strcmp(kind, "#TRACEBACK") == 0 || strcmp(kind, "#UNSERIALIZABLE") == 0) && text_of(value)) {
		snprintf(err->type, sizeof err->type, "RemoteError");
		/* A traceback's last line says what went wrong: "KeyError: 'c9'". */
		const char *text = text_of(value), *end = text + strlen(text);
		while (end > text && end[-1] == '\n')
			end--;
		const char *line = end;
		while (line > text && line[-1] != '\n')
			line--;
		snprintf(err->message, sizeof err->message, "%.*s", (int)(end - line), line);
		return MP_EREMOTE;
	}
	return MP_EBADMSG;
}
