/* ke-engine.h — the public API of Kestrel's inference engine.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Plain C, no GLib.  Every fallible call takes `ke_error **error` last and, on failure,
 * returns false/NULL and sets *error (when error is not NULL) to a newly allocated
 * ke_error that the caller frees with ke_error_free().  Nothing in the engine calls
 * abort() or exit() on bad input or device faults.
 *
 * Threading: a ke_model and everything made from it (sessions, its tokenizer) is used by
 * one thread at a time — in the app, the engine worker thread.  A ke_tokenizer made with
 * ke_tokenizer_new_from_file() is immutable after creation and may be shared for reading.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------ */
/* Errors                                                                               */
/* ------------------------------------------------------------------------------------ */

typedef enum {
  KE_ERROR_FAILED = 1,       /* anything not covered below */
  KE_ERROR_INVALID_ARGUMENT, /* the caller passed something invalid */
  KE_ERROR_IO,               /* a file could not be opened/read/mapped */
  KE_ERROR_FORMAT,           /* a file is corrupt or not what it claims to be */
  KE_ERROR_UNSUPPORTED,      /* valid, but not something Kestrel runs (yet) */
  KE_ERROR_NO_MEMORY,        /* host allocation failed */
  KE_ERROR_NO_DEVICE,        /* no usable GPU / driver */
  KE_ERROR_DEVICE_MEMORY,    /* out of GPU memory */
  KE_ERROR_DEVICE,           /* CUDA/cuBLAS failure; the backend may be unusable */
  KE_ERROR_CANCELLED,        /* a callback asked to stop */
  KE_ERROR_CONTEXT_FULL,     /* the prompt does not fit in the session's context */
} ke_error_code;

typedef struct ke_error {
  ke_error_code code;
  char *message; /* UTF-8, one sentence or two, names the file/tensor when relevant */
} ke_error;

void ke_error_free (ke_error *error);
const char *ke_error_code_name (ke_error_code code);

/* ------------------------------------------------------------------------------------ */
/* Tokens, tokenizer, streaming detokenizer                                              */
/* ------------------------------------------------------------------------------------ */

typedef int32_t ke_token;
typedef struct ke_tokenizer ke_tokenizer;
typedef struct ke_detokenizer ke_detokenizer;

/* Special tokens the engine needs; ids are read from the tokenizer files, never
 * hard-coded.  ke_tokenizer_special() returns -1 for one the tokenizer lacks. */
typedef enum {
  KE_SPECIAL_PAD,
  KE_SPECIAL_EOS,
  KE_SPECIAL_BOS,
  KE_SPECIAL_UNK,
  KE_SPECIAL_START_OF_TURN,
  KE_SPECIAL_END_OF_TURN,
  KE_SPECIAL_START_OF_IMAGE,
  KE_SPECIAL_END_OF_IMAGE,
  KE_SPECIAL_IMAGE_SOFT_TOKEN,
  KE_SPECIAL_COUNT
} ke_special_token;

enum {
  KE_DECODE_SKIP_SPECIAL = 1 << 0, /* as HF decode(skip_special_tokens=True) */
};

/* Reads a Hugging Face tokenizer.json (Gemma form: BPE + byte fallback + added tokens). */
ke_tokenizer *ke_tokenizer_new_from_file (const char *tokenizer_json_path, ke_error **error);
/* The same from the JSON text in memory (len bytes, no NUL needed). */
ke_tokenizer *ke_tokenizer_new_from_json (const char *json, size_t len, ke_error **error);
/* Reads DIR/tokenizer.json, or DIR/tokenizer.model when there is no tokenizer.json.  The
 * special ids come from the added tokens by name (<bos>, <eos>, …), overridden by
 * DIR/tokenizer_config.json and special_tokens_map.json (bos_token, eos_token, pad_token,
 * unk_token, boi_token, eoi_token, image_token) when present. */
ke_tokenizer *ke_tokenizer_new_from_dir (const char *model_dir, ke_error **error);
void ke_tokenizer_free (ke_tokenizer *tokenizer);

/* Largest id + 1, added tokens included (Gemma 3: 262145). */
size_t ke_tokenizer_vocab_size (const ke_tokenizer *tokenizer);
ke_token ke_tokenizer_special (const ke_tokenizer *tokenizer, ke_special_token which);
/* Piece → id, or -1. */
ke_token ke_tokenizer_piece_to_id (const ke_tokenizer *tokenizer, const char *piece);
/* id → raw piece bytes (not decoded), or NULL for an out-of-range id. */
const char *ke_tokenizer_id_to_piece (const ke_tokenizer *tokenizer, ke_token id, size_t *len);
bool ke_tokenizer_is_special (const ke_tokenizer *tokenizer, ke_token id);

/* encode(text, add_special_tokens=False), exactly as HF tokenizers.  `text` must be valid
 * UTF-8 (KE_ERROR_INVALID_ARGUMENT otherwise).  *ids is malloc'd; free() it. */
bool ke_tokenizer_encode (const ke_tokenizer *tokenizer, const char *text, size_t len,
                          ke_token **ids, size_t *n_ids, ke_error **error);
/* decode(ids, skip_special_tokens=flags&SKIP).  Returns malloc'd NUL-terminated UTF-8. */
char *ke_tokenizer_decode (const ke_tokenizer *tokenizer, const ke_token *ids, size_t n_ids,
                           unsigned flags, size_t *len, ke_error **error);

/* Streaming detokenizer: push ids one at a time; each push returns the new text (valid
 * until the next call, never splitting a UTF-8 character); the concatenation of all pushes
 * and the final flush equals ke_tokenizer_decode() of all ids.  A run of byte-fallback
 * pieces (<0xNN>) is held back until the run ends (the next other piece, or flush): HF
 * turns a whole run with one bad byte into U+FFFDs, so its text is known only then. */
ke_detokenizer *ke_detokenizer_new (const ke_tokenizer *tokenizer, unsigned flags);
const char *ke_detokenizer_push (ke_detokenizer *detok, ke_token id, size_t *len);
const char *ke_detokenizer_flush (ke_detokenizer *detok, size_t *len);
void ke_detokenizer_reset (ke_detokenizer *detok);
void ke_detokenizer_free (ke_detokenizer *detok);

/* ------------------------------------------------------------------------------------ */
/* Images                                                                               */
/* ------------------------------------------------------------------------------------ */

/* An 8-bit RGB or RGBA image owned by the caller.  The engine validates the sizes. */
typedef struct ke_image {
  uint32_t width;
  uint32_t height;
  uint32_t channels;   /* 3 (RGB) or 4 (RGBA; alpha is dropped as Gemma3ImageProcessor does) */
  size_t stride;       /* bytes per row, >= width * channels */
  const uint8_t *pixels;
} ke_image;

/* Largest accepted image side and pixel count (refused clearly above). */
#define KE_IMAGE_MAX_SIDE 16384u
#define KE_IMAGE_MAX_PIXELS (64u * 1024u * 1024u)

bool ke_image_validate (const ke_image *image, ke_error **error);

/* ------------------------------------------------------------------------------------ */
/* Chat prompt builder (Gemma 3 chat template, byte-exact)                               */
/* ------------------------------------------------------------------------------------ */

typedef enum {
  KE_ROLE_SYSTEM,
  KE_ROLE_USER,
  KE_ROLE_MODEL,
  KE_ROLE_TOOL, /* a tool result: a user turn "<tool_response>\n" … "</tool_response>" (as
                 vLLM's pythonic Gemma 3 tool template); not counted in the alternation */
} ke_role;

typedef enum {
  KE_PART_TEXT,
  KE_PART_IMAGE,
} ke_part_kind;

typedef struct ke_chat_part {
  ke_part_kind kind;
  const char *text;     /* KE_PART_TEXT: UTF-8, not NUL-terminated necessarily */
  size_t text_len;
  const ke_image *image; /* KE_PART_IMAGE; may be NULL when only rendering text */
} ke_chat_part;

typedef struct ke_chat_message {
  ke_role role;
  const ke_chat_part *parts;
  size_t n_parts;
} ke_chat_message;

typedef struct ke_chat_options {
  bool add_bos;               /* default true: "<bos>" once at the start */
  bool add_generation_prompt; /* "<start_of_turn>model\n" at the end */
  /* Tool declarations (a JSON array of function schemas, UTF-8) or NULL; the tool-calling
   * format decides where they go (first user turn).  Reserved: ignored until the
   * tool-calling work (issue 10) renders it. */
  const char *tools_json;
} ke_chat_options;

/* add_bos = true, add_generation_prompt = true, tools_json = NULL.  Passing NULL options
 * to the functions below means these defaults. */
void ke_chat_options_init (ke_chat_options *options);

/* The prompt as text, byte-exact with Gemma 3's chat_template.jinja.  Images render as
 * the processor expands them: "\n\n<start_of_image>" + mm_tokens_per_image ×
 * "<image_soft_token>" + "<end_of_image>\n\n".  Returns malloc'd NUL-terminated text. */
char *ke_chat_render (const ke_chat_message *messages, size_t n_messages,
                      const ke_chat_options *options, uint32_t mm_tokens_per_image,
                      size_t *len, ke_error **error);

/* A tokenized prompt: ids, with each image occupying a run of mm_tokens_per_image
 * image-soft-token ids, and the images in order of appearance (borrowed pointers). */
typedef struct ke_prompt {
  ke_token *ids;
  size_t n_ids;
  const ke_image **images;
  size_t n_images;
} ke_prompt;

/* Renders and tokenizes (added tokens match anywhere, so the markers become their ids).
 * Fails with KE_ERROR_INVALID_ARGUMENT unless the ids hold exactly one run of
 * mm_tokens_per_image <image_soft_token> per image part (so image markers typed as text
 * are refused) and every image part has an image.  Free with ke_prompt_clear(). */
bool ke_chat_build (const ke_tokenizer *tokenizer, const ke_chat_message *messages,
                    size_t n_messages, const ke_chat_options *options,
                    uint32_t mm_tokens_per_image, ke_prompt *prompt, ke_error **error);
void ke_prompt_clear (ke_prompt *prompt);

/* ------------------------------------------------------------------------------------ */
/* Model                                                                                */
/* ------------------------------------------------------------------------------------ */

typedef struct ke_model ke_model;

typedef enum {
  KE_BACKEND_AUTO, /* CUDA when a usable GPU exists, else CPU */
  KE_BACKEND_CPU,
  KE_BACKEND_CUDA,
  /* For tests and demos: no model math; each model turn replays the next reply of the
   * script in ke_model_options.replay_script, token by token, through the same sessions,
   * sampler and callbacks (a tiny random model cannot call tools, this one can). */
  KE_BACKEND_REPLAY,
} ke_backend_kind;

typedef struct ke_model_options {
  ke_backend_kind backend;
  int device;             /* CUDA device index */
  int n_threads;          /* CPU backend; 0 = all cores */
  uint32_t max_context;   /* upper bound for sessions; 0 = model default (capped) */
  bool skip_act_quant;    /* W8A16: do not quantize activations of FP8 linears */
  /* KE_BACKEND_REPLAY: a JSON file {"replies": ["text of model turn 1", "turn 2", …]}. */
  const char *replay_script;
  /* Tensor parallelism (docs/tensor-parallel.md).  CUDA: the GPUs that share the model,
   * one rank each (borrowed array; n_devices 0 = just `device`, 1 = that one GPU).  The
   * number must divide the query and key/value heads (Gemma 3 4b: 1, 2 or 4) and the GPUs
   * must have one compute capability.  CPU: `tensor_parallel` ranks (threads, each with
   * its share of the weights and of n_threads) through the same rank logic; 0 = the plain
   * single path.  The CPU backend ignores `devices`; CUDA refuses tensor_parallel > 1. */
  const int *devices;
  size_t n_devices;
  uint32_t tensor_parallel;
} ke_model_options;

void ke_model_options_init (ke_model_options *options);
/* Parses a GPU list as the CLI's --gpus and the app's preferences take it: "0,1", " 2, 3"
 * (indices 0..63, no duplicates, at most max_devices).  Returns the count, or 0 with
 * KE_ERROR_INVALID_ARGUMENT and a sentence saying what is wrong. */
size_t ke_parse_device_list (const char *text, int *devices, size_t max_devices,
                             ke_error **error);

/* Progress: fraction in [0,1] and a short stage name ("Reading weights").  Return false
 * to cancel the load (ke_model_open then fails with KE_ERROR_CANCELLED). */
typedef bool (*ke_progress_fn) (double fraction, const char *stage, void *user_data);

typedef struct ke_model_info {
  const char *architecture;   /* "Gemma3ForConditionalGeneration" / "Gemma3ForCausalLM" */
  const char *backend;        /* "cpu" or "cuda" */
  const char *device_name;    /* "NVIDIA H100 80GB HBM3", or the CPU model */
  const char *quantization;   /* "fp8-dynamic (compressed-tensors)", "bf16", … */
  uint32_t vocab_size;
  uint32_t hidden_size;
  uint32_t n_layers;
  uint32_t max_context;
  bool has_vision;
  uint32_t mm_tokens_per_image;
  uint32_t image_size;
  uint64_t n_params;
  uint64_t device_bytes;      /* weights resident on the backend's device */
} ke_model_info;

ke_model *ke_model_open (const char *model_dir, const ke_model_options *options,
                         ke_progress_fn progress, void *user_data, ke_error **error);
void ke_model_free (ke_model *model);
const ke_model_info *ke_model_get_info (const ke_model *model);
const ke_tokenizer *ke_model_get_tokenizer (const ke_model *model);

/* ------------------------------------------------------------------------------------ */
/* Sampling                                                                             */
/* ------------------------------------------------------------------------------------ */

typedef struct ke_sampling {
  float temperature;        /* 0 = greedy */
  int32_t top_k;            /* 0 = off */
  float top_p;              /* 1 = off */
  float min_p;              /* 0 = off */
  float repetition_penalty; /* 1 = off (HF semantics) */
  float presence_penalty;   /* 0 = off (OpenAI semantics) */
  uint64_t seed;
  uint32_t max_tokens;      /* 0 = until eos or context end */
} ke_sampling;

/* Greedy defaults overridden by the model's generation_config.json when model != NULL. */
void ke_sampling_init (ke_sampling *sampling, const ke_model *model);

/* ------------------------------------------------------------------------------------ */
/* Sessions                                                                             */
/* ------------------------------------------------------------------------------------ */

typedef struct ke_session ke_session;

typedef struct ke_session_options {
  uint32_t context_length; /* KV cache capacity in tokens; 0 = model's max_context */
} ke_session_options;

void ke_session_options_init (ke_session_options *options);

typedef struct ke_stats {
  uint32_t prompt_tokens;  /* tokens in the prompt */
  uint32_t cached_tokens;  /* of which reused from the cache */
  uint32_t generated_tokens;
  double prefill_seconds;
  double time_to_first_token;
  double decode_seconds;
  uint32_t images_encoded; /* vision tower runs in this call */
} ke_stats;

/* Called for each sampled token; return false to stop after it. */
typedef bool (*ke_token_fn) (ke_token token, void *user_data);

ke_session *ke_session_new (ke_model *model, const ke_session_options *options,
                            ke_error **error);
void ke_session_free (ke_session *session);

/* Makes the session's context exactly `prompt`, reusing the longest cached prefix (ids
 * equal, and equal image contents at image positions): earlier turns are not recomputed.
 * When logits is not NULL it receives the last position's logits [vocab_size]. */
bool ke_session_prefill (ke_session *session, const ke_prompt *prompt, float *logits,
                         ke_stats *stats, ke_error **error);

/* As ke_session_prefill, but computes the whole prompt (no reuse) and writes the logits
 * of every position, [prompt->n_ids, vocab_size] row-major (for comparisons and tests). */
bool ke_session_prefill_all (ke_session *session, const ke_prompt *prompt, float *logits,
                             ke_stats *stats, ke_error **error);

/* Samples up to sampling->max_tokens tokens after the current context, calling on_token
 * for each; stops on any eos id of the model or when on_token returns false.  An eos token
 * is passed to on_token (and counted) but not appended to the context; every other
 * sampled token is (ke_session_n_tokens grows by one per token). */
bool ke_session_generate (ke_session *session, const ke_sampling *sampling,
                          ke_token_fn on_token, void *user_data, ke_stats *stats,
                          ke_error **error);

/* Drops the context after the first n tokens. */
bool ke_session_truncate (ke_session *session, size_t n_tokens, ke_error **error);
size_t ke_session_n_tokens (const ke_session *session);

#ifdef __cplusplus
}
#endif
