/* einfuse._fastcall: the cached call's hot path, compiled (docs/python.md, "The per-call path").
 *
 * The package is Python over the C ABI through ctypes, and stays so: this module is optional
 * (without it, _core.py's python_runner does the same work). What it saves is what a cached call
 * on torch tensors or numpy arrays spends in the interpreter: the ctypes call (its argument
 * conversion), the entry's lock and the cache key built by bytecode. It does not link libeinfuse: the address of
 * einfuse_run_on_stream comes from the ctypes library that _lib.py loaded.
 *
 * Built against Python's limited API (3.11), so the one file serves every later CPython, such as
 * the GPU machine's 3.12, without compiling there.
 *
 * Two things:
 *  - Runner: one cache entry's call. It keeps a copy of the entry's DLTensors (shapes and strides
 *    fixed when the entry was made); each call copies them to the stack, sets the data pointers
 *    of that call's arrays and runs with the GIL released, so calls on several threads need no
 *    lock.
 *  - lookup/remember: a cache of Runners by (expression, options, each array's type, shape,
 *    strides, dtype, device), for torch tensors and numpy arrays (configure_torch() and
 *    configure_buffers() name their types), so that a cached einfuse.einsum call does not leave
 *    C before the kernel runs. Anything unusual (a tensor that needs grad, a conjugate or negative
 *    view, another type) misses, and the Python path, which handles everything, takes the call.
 *
 * Data addresses: torch's data_ptr(); numpy's from the buffer protocol, held through the run. */
#define Py_LIMITED_API 0x030B0000
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlpack/dlpack.h>
#include <string.h>

/* PyObject_VectorcallMethod calls a method without making a bound method first: the key's method
 * calls cost about half. It is in the stable ABI from 3.12 and exported by 3.11's libpython,
 * whose limited API does not declare it yet: declared here as 3.12's headers do. */
#if Py_LIMITED_API + 0 < 0x030C0000
PyAPI_FUNC(PyObject *) PyObject_VectorcallMethod(PyObject *name, PyObject *const *args, size_t nargsf, PyObject *kwnames);
#endif
#ifndef PY_VECTORCALL_ARGUMENTS_OFFSET
#define PY_VECTORCALL_ARGUMENTS_OFFSET ((size_t)1 << (8 * sizeof(size_t) - 1))
#endif

static PyObject *call_method(PyObject *x, PyObject *name) {
    PyObject *args[1] = {x};
    return PyObject_VectorcallMethod(name, args, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
}

typedef int (*RunOnStream)(void *kernel, int num_inputs, const DLTensor *inputs, int num_outputs, DLTensor *outputs,
                           void *stream);

/* More tensors than this take the Python runner (_core.python_runner): the DLTensors live on the stack. */
#define MAX_TENSORS 32

typedef struct {
    PyObject_HEAD
    RunOnStream run;
    void *kernel;
    int n_in, n_out;
    DLTensor *ins, *outs; /* copies of the entry's, with their shapes and strides (in `dims`) */
    int64_t *dims;
    int device_id;
    PyObject *owner;   /* what keeps the kernel alive */
    PyObject *pointer; /* x -> its data address as an int (torch.Tensor.data_ptr); None: the buffer protocol (numpy) */
    PyObject *allocs;  /* tuple: one callable per output, returning a new output */
    PyObject *stream;  /* device_id -> the caller's current stream as an int, or None (host) */
    PyObject *error;   /* status -> the exception to raise (_lib.error) */
} Runner;

static PyObject *runner_type;

/* The data address of x: from the buffer protocol (held in `view` until the caller releases it),
 * or from r->pointer. */
static int data_of(Runner *r, PyObject *x, void **data, Py_buffer *view, int *held) {
    if (r->pointer == Py_None) {
        if (PyObject_GetBuffer(x, view, PyBUF_STRIDES) < 0) return -1;
        ++*held;
        *data = view->buf;
        return 0;
    }
    PyObject *address = PyObject_CallFunctionObjArgs(r->pointer, x, NULL);
    if (!address) return -1;
    *data = PyLong_AsVoidPtr(address);
    Py_DECREF(address);
    return PyErr_Occurred() ? -1 : 0;
}

static PyObject *item(PyObject *seq, Py_ssize_t i) { /* borrowed */
    return PyTuple_Check(seq) ? PyTuple_GetItem(seq, i) : PyList_GetItem(seq, i);
}

static Py_ssize_t length(PyObject *seq) {
    if (PyTuple_Check(seq)) return PyTuple_Size(seq);
    if (PyList_Check(seq)) return PyList_Size(seq);
    PyErr_SetString(PyExc_TypeError, "einfuse: the arrays must be a tuple or a list");
    return -1;
}

/* The kernel run on `arrays` into outputs it allocates: the list of them. */
static PyObject *run_arrays(Runner *r, PyObject *arrays) {
    Py_ssize_t n = length(arrays);
    if (n < 0) return NULL;
    if (n != r->n_in) {
        PyErr_Format(PyExc_ValueError, "einfuse: the entry takes %d arrays, got %zd", r->n_in, n);
        return NULL;
    }
    DLTensor ins[MAX_TENSORS], outs[MAX_TENSORS];
    Py_buffer views[2 * MAX_TENSORS]; /* the buffers held through the run (numpy) */
    int held = 0;
    memcpy(ins, r->ins, sizeof(DLTensor) * r->n_in);
    memcpy(outs, r->outs, sizeof(DLTensor) * r->n_out);
    PyObject *results = PyList_New(r->n_out);
    if (!results) return NULL;
    for (int i = 0; i < r->n_in; ++i)
        if (data_of(r, item(arrays, i), &ins[i].data, &views[held], &held) < 0) goto fail;
    for (int o = 0; o < r->n_out; ++o) {
        PyObject *out = PyObject_CallNoArgs(PyTuple_GetItem(r->allocs, o));
        if (!out) goto fail;
        PyList_SetItem(results, o, out); /* steals */
        if (data_of(r, out, &outs[o].data, &views[held], &held) < 0) goto fail;
    }
    void *stream = NULL;
    if (r->stream != Py_None) {
        PyObject *s = PyObject_CallFunction(r->stream, "i", r->device_id);
        if (!s) goto fail;
        stream = s == Py_None ? NULL : PyLong_AsVoidPtr(s);
        Py_DECREF(s);
        if (PyErr_Occurred()) goto fail;
    }
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = r->run(r->kernel, r->n_in, ins, r->n_out, outs, stream);
    Py_END_ALLOW_THREADS
    if (status) {
        PyObject *e = PyObject_CallFunction(r->error, "i", status);
        if (e) {
            PyErr_SetObject((PyObject *)Py_TYPE(e), e);
            Py_DECREF(e);
        }
        goto fail;
    }
    for (int v = 0; v < held; ++v) PyBuffer_Release(&views[v]);
    return results;
fail:
    for (int v = 0; v < held; ++v) PyBuffer_Release(&views[v]);
    Py_DECREF(results);
    return NULL;
}

/* runner(arrays) -> [new outputs] */
static PyObject *runner_call(PyObject *self, PyObject *args, PyObject *kwargs) {
    PyObject *arrays;
    if (kwargs && PyDict_Size(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "einfuse: a Runner takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O", &arrays)) return NULL;
    return run_arrays((Runner *)self, arrays);
}

/* The runner's own copies of the entry's DLTensors: the Python path may repoint the entry's
 * (a DLPack fill copies a capsule's DLTensor, whose shape lives as long as that call). */
static int copy_tensors(Runner *r, const DLTensor *ins, const DLTensor *outs) {
    int n = r->n_in + r->n_out;
    size_t dims = 0;
    for (int i = 0; i < n; ++i) {
        const DLTensor *t = i < r->n_in ? &ins[i] : &outs[i - r->n_in];
        if (t->ndim < 0 || t->ndim > 64 || (t->ndim && !t->shape)) {
            PyErr_SetString(PyExc_ValueError, "einfuse: Runner: a DLTensor without a shape");
            return -1;
        }
        dims += (size_t)t->ndim * (t->strides ? 2 : 1);
    }
    r->ins = PyMem_Calloc((size_t)n, sizeof(DLTensor));
    r->dims = PyMem_Calloc(dims ? dims : 1, sizeof(int64_t));
    if (!r->ins || !r->dims) {
        PyErr_NoMemory();
        return -1;
    }
    r->outs = r->ins + r->n_in;
    int64_t *next = r->dims;
    for (int i = 0; i < n; ++i) {
        const DLTensor *t = i < r->n_in ? &ins[i] : &outs[i - r->n_in];
        DLTensor *c = &r->ins[i];
        *c = *t;
        c->data = NULL;
        c->shape = next;
        memcpy(next, t->shape, sizeof(int64_t) * (size_t)t->ndim);
        next += t->ndim;
        if (t->strides) {
            c->strides = next;
            memcpy(next, t->strides, sizeof(int64_t) * (size_t)t->ndim);
            next += t->ndim;
        }
    }
    return 0;
}

static void *address_arg(PyObject *v) { return PyLong_AsVoidPtr(v); }

/* Runner(run, kernel, ins, n_in, outs, n_out, device_id, owner, pointer, allocs, stream, error):
 * run, kernel, ins and outs are addresses (ints): einfuse_run_on_stream, the einfuse_kernel and
 * the entry's DLTensor arrays (copied, with their shapes and strides). */
static PyObject *runner_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *run, *kernel, *ins, *outs, *owner, *pointer, *allocs, *stream, *error;
    int n_in, n_out, device_id;
    if (!PyArg_ParseTuple(args, "OOOiOiiOOO!OO", &run, &kernel, &ins, &n_in, &outs, &n_out, &device_id, &owner,
                          &pointer, &PyTuple_Type, &allocs, &stream, &error))
        return NULL;
    if (n_in < 0 || n_out < 1 || n_in > MAX_TENSORS || n_out > MAX_TENSORS || PyTuple_Size(allocs) != n_out) {
        PyErr_SetString(PyExc_ValueError, "einfuse: Runner: bad tensor counts");
        return NULL;
    }
    Runner *r = (Runner *)PyType_GenericAlloc(type, 0);
    if (!r) return NULL;
    r->run = (RunOnStream)address_arg(run);
    r->kernel = address_arg(kernel);
    const DLTensor *entry_ins = address_arg(ins), *entry_outs = address_arg(outs);
    if (PyErr_Occurred() || !r->run || !r->kernel || !entry_outs || (n_in && !entry_ins)) {
        Py_DECREF(r);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "einfuse: Runner: a null address");
        return NULL;
    }
    r->n_in = n_in, r->n_out = n_out, r->device_id = device_id;
    if (copy_tensors(r, entry_ins, entry_outs) < 0) {
        Py_DECREF(r);
        return NULL;
    }
    PyObject **fields[] = {&r->owner, &r->pointer, &r->allocs, &r->stream, &r->error};
    PyObject *values[] = {owner, pointer, allocs, stream, error};
    for (int i = 0; i < 5; ++i) {
        Py_INCREF(values[i]);
        *fields[i] = values[i];
    }
    return (PyObject *)r;
}

static int runner_traverse(PyObject *self, visitproc visit, void *arg) {
    Runner *r = (Runner *)self;
    Py_VISIT(r->owner);
    Py_VISIT(r->pointer);
    Py_VISIT(r->allocs);
    Py_VISIT(r->stream);
    Py_VISIT(r->error);
    Py_VISIT(Py_TYPE(self)); /* a heap type */
    return 0;
}

static int runner_clear(PyObject *self) {
    Runner *r = (Runner *)self;
    Py_CLEAR(r->owner);
    Py_CLEAR(r->pointer);
    Py_CLEAR(r->allocs);
    Py_CLEAR(r->stream);
    Py_CLEAR(r->error);
    return 0;
}

static void runner_dealloc(PyObject *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    runner_clear(self);
    Runner *r = (Runner *)self;
    PyMem_Free(r->ins);
    PyMem_Free(r->dims);
    freefunc free = (freefunc)PyType_GetSlot(type, Py_tp_free);
    free(self);
    Py_DECREF(type);
}

static PyType_Slot runner_slots[] = {
    {Py_tp_new, runner_new},         {Py_tp_call, runner_call},   {Py_tp_traverse, runner_traverse},
    {Py_tp_clear, runner_clear},     {Py_tp_dealloc, runner_dealloc},
    {Py_tp_doc, "One cached entry's call: runner(arrays) -> [new outputs]."},
    {0, NULL},
};

static PyType_Spec runner_spec = {"einfuse._fastcall.Runner", sizeof(Runner), 0,
                                  Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, runner_slots};

/* --- The cache of calls ------------------------------------------------------------------ */

static PyObject *cache;        /* key -> Runner */
static PyObject *torch_types;  /* the tensor types keys are made for (torch.Tensor, Parameter) */
static PyObject *buffer_types; /* the array types read through the buffer protocol (numpy.ndarray) */
static PyObject *grad_enabled; /* torch.is_grad_enabled */
static PyObject *name_shape, *name_stride, *name_strides, *name_dtype, *name_device, *name_requires_grad, *name_is_conj,
    *name_is_neg;
static Py_ssize_t cache_limit = 512;

enum { OTHER, TORCH, BUFFER };

static int in_types(PyObject *types, PyObject *t) {
    for (Py_ssize_t i = 0, n = types ? PyTuple_Size(types) : 0; i < n; ++i)
        if (PyTuple_GetItem(types, i) == t) return 1;
    return 0;
}

static int kind_of(PyObject *x) {
    PyObject *t = (PyObject *)Py_TYPE(x);
    return in_types(torch_types, t) ? TORCH : in_types(buffer_types, t) ? BUFFER : OTHER;
}

static int true_method(PyObject *x, PyObject *name) { /* 1, 0, or -1 with an exception */
    PyObject *v = call_method(x, name);
    if (!v) return -1;
    int truth = PyObject_IsTrue(v);
    Py_DECREF(v);
    return truth;
}

/* Whether the cache takes torch tensor x (1), not (0), or an exception (-1): not one that needs
 * grad while grad is on (autograd's path), nor a conjugate or negative view (resolved first).
 * `grad` caches torch.is_grad_enabled() across a call's tensors (-2: not asked yet). */
static int torch_takes(PyObject *x, int *grad) {
    PyObject *rg = PyObject_GetAttr(x, name_requires_grad);
    if (!rg) return -1;
    int requires = PyObject_IsTrue(rg);
    Py_DECREF(rg);
    if (requires < 0) return -1;
    if (requires) {
        if (*grad == -2) {
            PyObject *g = PyObject_CallNoArgs(grad_enabled);
            if (!g) return -1;
            *grad = PyObject_IsTrue(g);
            Py_DECREF(g);
            if (*grad < 0) return -1;
        }
        if (*grad) return 0;
    }
    int conj = true_method(x, name_is_conj);
    if (conj) return conj < 0 ? -1 : 0;
    int neg = true_method(x, name_is_neg);
    return neg < 0 ? -1 : !neg;
}

/* The key of a call, or NULL: with an exception when one is set, else a call the cache does not
 * take. Per array: its type, shape, strides, dtype and device (None for a buffer's). */
static PyObject *key_of(PyObject *expr, PyObject *options, PyObject *arrays) {
    Py_ssize_t n = length(arrays);
    if (n < 0) return NULL;
    PyObject *key = PyTuple_New(2 + 5 * n);
    if (!key) return NULL;
    Py_INCREF(expr);
    PyTuple_SetItem(key, 0, expr);
    Py_INCREF(options);
    PyTuple_SetItem(key, 1, options);
    int grad = -2;
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject *x = item(arrays, i);
        int kind = kind_of(x);
        if (kind == OTHER) goto miss;
        if (kind == TORCH) {
            int takes = torch_takes(x, &grad);
            if (takes < 0) goto fail;
            if (!takes) goto miss;
        }
        PyObject *t = (PyObject *)Py_TYPE(x);
        Py_INCREF(t);
        PyTuple_SetItem(key, 2 + 5 * i, t);
        PyObject *parts[4];
        if (kind == TORCH) {
            parts[0] = PyObject_GetAttr(x, name_shape);
            parts[1] = call_method(x, name_stride);
            parts[2] = PyObject_GetAttr(x, name_dtype);
            parts[3] = PyObject_GetAttr(x, name_device);
        } else {
            parts[0] = PyObject_GetAttr(x, name_shape);
            parts[1] = PyObject_GetAttr(x, name_strides);
            parts[2] = PyObject_GetAttr(x, name_dtype);
            Py_INCREF(Py_None);
            parts[3] = Py_None;
        }
        for (int p = 0; p < 4; ++p)
            PyTuple_SetItem(key, 3 + 5 * i + p, parts[p]); /* steals; a NULL is checked below */
        if (!parts[0] || !parts[1] || !parts[2] || !parts[3]) goto fail;
    }
    return key;
miss:
    Py_DECREF(key);
    return NULL;
fail:
    Py_DECREF(key);
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "einfuse: an array's attribute was missing");
    return NULL;
}

/* lookup(expr, options, arrays, n_out) -> [outputs], or None where the cache has no Runner for
 * this call (or one with another number of outputs; n_out 0: any). */
static PyObject *lookup(PyObject *module, PyObject *args) {
    PyObject *expr, *options, *arrays;
    int want;
    if (!PyArg_ParseTuple(args, "UUOi", &expr, &options, &arrays, &want)) return NULL;
    if (!cache) Py_RETURN_NONE;
    PyObject *key = key_of(expr, options, arrays);
    if (!key) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    PyObject *found = PyDict_GetItemWithError(cache, key); /* borrowed */
    Py_DECREF(key);
    if (!found) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    Runner *r = (Runner *)found;
    if (want && r->n_out != want) Py_RETURN_NONE;
    Py_INCREF(found); /* a concurrent remember() or clear() may drop the cache's reference */
    PyObject *result = run_arrays(r, arrays);
    Py_DECREF(found);
    return result;
}

/* remember(expr, options, arrays, runner): later calls with this key go to runner. A call the
 * cache does not take is not remembered. The oldest entry goes when the cache is full. */
static PyObject *remember(PyObject *module, PyObject *args) {
    PyObject *expr, *options, *arrays, *runner;
    if (!PyArg_ParseTuple(args, "UUOO!", &expr, &options, &arrays, (PyTypeObject *)runner_type, &runner))
        return NULL;
    if (!cache) Py_RETURN_NONE;
    PyObject *key = key_of(expr, options, arrays);
    if (!key) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    if (PyDict_Size(cache) >= cache_limit) {
        Py_ssize_t pos = 0;
        PyObject *oldest, *value;
        if (PyDict_Next(cache, &pos, &oldest, &value)) { /* dicts keep insertion order */
            Py_INCREF(oldest);
            PyDict_DelItem(cache, oldest);
            Py_DECREF(oldest);
        }
    }
    int failed = PyDict_SetItem(cache, key, runner);
    Py_DECREF(key);
    if (failed) return NULL;
    Py_RETURN_NONE;
}

static int ensure_cache(Py_ssize_t limit) {
    if (limit > 0) cache_limit = limit;
    return cache || (cache = PyDict_New()) ? 0 : -1;
}

static void replace(PyObject **field, PyObject *value) {
    Py_INCREF(value);
    Py_XDECREF(*field);
    *field = value;
}

/* configure_torch(types, is_grad_enabled, limit): the tensor types keys are made for. */
static PyObject *configure_torch(PyObject *module, PyObject *args) {
    PyObject *types, *grad;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "O!On", &PyTuple_Type, &types, &grad, &limit)) return NULL;
    replace(&torch_types, types);
    replace(&grad_enabled, grad);
    if (ensure_cache(limit) < 0) return NULL;
    Py_RETURN_NONE;
}

/* configure_buffers(types, limit): array types keyed by (shape, strides, dtype) and read through
 * the buffer protocol (numpy.ndarray). */
static PyObject *configure_buffers(PyObject *module, PyObject *args) {
    PyObject *types;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "O!n", &PyTuple_Type, &types, &limit)) return NULL;
    replace(&buffer_types, types);
    if (ensure_cache(limit) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *clear(PyObject *module, PyObject *unused) {
    if (cache) PyDict_Clear(cache);
    Py_RETURN_NONE;
}

static PyObject *size(PyObject *module, PyObject *unused) { return PyLong_FromSsize_t(cache ? PyDict_Size(cache) : 0); }

static PyMethodDef methods[] = {
    {"lookup", lookup, METH_VARARGS, "lookup(expr, options, arrays, n_out) -> [outputs] or None"},
    {"remember", remember, METH_VARARGS, "remember(expr, options, arrays, runner)"},
    {"configure_torch", configure_torch, METH_VARARGS, "configure_torch(types, is_grad_enabled, limit)"},
    {"configure_buffers", configure_buffers, METH_VARARGS, "configure_buffers(types, limit)"},
    {"clear", clear, METH_NOARGS, "drops every remembered call"},
    {"size", size, METH_NOARGS, "the number of remembered calls"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_fastcall", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fastcall(void) {
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    runner_type = PyType_FromSpec(&runner_spec);
    if (!runner_type || PyModule_AddObjectRef(m, "Runner", runner_type) < 0) goto fail;
    const char *names[] = {"shape", "stride", "strides", "dtype", "device", "requires_grad", "is_conj", "is_neg"};
    PyObject **slots[] = {&name_shape,  &name_stride,        &name_strides, &name_dtype,
                          &name_device, &name_requires_grad, &name_is_conj, &name_is_neg};
    for (int i = 0; i < 8; ++i)
        if (!(*slots[i] = PyUnicode_InternFromString(names[i]))) goto fail;
    if (PyModule_AddIntConstant(m, "MAX_TENSORS", MAX_TENSORS) < 0) goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
