/* kestrel-engine-types.h — what the app hands the engine worker: chat turns and images.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * These are plain boxed types so the worker does not depend on the store's objects: the
 * conversation view turns its messages into KestrelChatTurns when it asks for a reply.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum
{
  KESTREL_ROLE_SYSTEM,
  KESTREL_ROLE_USER,
  KESTREL_ROLE_MODEL,
  KESTREL_ROLE_TOOL,
} KestrelRole;

/* An image already decoded and validated by the app: 8-bit RGB(A) pixels. */
typedef struct _KestrelImage KestrelImage;

#define KESTREL_TYPE_IMAGE (kestrel_image_get_type ())
GType          kestrel_image_get_type   (void) G_GNUC_CONST;
KestrelImage  *kestrel_image_new        (GBytes       *pixels,
                                         guint         width,
                                         guint         height,
                                         guint         channels,
                                         gsize         stride);
KestrelImage  *kestrel_image_ref        (KestrelImage *image);
void           kestrel_image_unref      (KestrelImage *image);
guint          kestrel_image_get_width  (KestrelImage *image);
guint          kestrel_image_get_height (KestrelImage *image);
GBytes        *kestrel_image_get_pixels (KestrelImage *image);
guint          kestrel_image_get_channels (KestrelImage *image);
gsize          kestrel_image_get_stride (KestrelImage *image);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KestrelImage, kestrel_image_unref)

/* One turn of a conversation: a role, its text, and the images that follow the text
 * (Gemma 3 places them where they occur; the composer puts them after the text). */
typedef struct _KestrelChatTurn KestrelChatTurn;

#define KESTREL_TYPE_CHAT_TURN (kestrel_chat_turn_get_type ())
GType             kestrel_chat_turn_get_type   (void) G_GNUC_CONST;
KestrelChatTurn  *kestrel_chat_turn_new        (KestrelRole      role,
                                                const char      *text);
void              kestrel_chat_turn_add_image  (KestrelChatTurn *turn,
                                                KestrelImage    *image);
KestrelChatTurn  *kestrel_chat_turn_ref        (KestrelChatTurn *turn);
void              kestrel_chat_turn_unref      (KestrelChatTurn *turn);
KestrelRole       kestrel_chat_turn_get_role   (KestrelChatTurn *turn);
const char       *kestrel_chat_turn_get_text   (KestrelChatTurn *turn);
guint             kestrel_chat_turn_get_n_images (KestrelChatTurn *turn);
KestrelImage     *kestrel_chat_turn_get_image  (KestrelChatTurn *turn,
                                                guint            index);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KestrelChatTurn, kestrel_chat_turn_unref)

/* Sampling and length settings of one request (defaults from the model when unset). */
typedef struct
{
  double  temperature;   /* < 0: the model's default */
  int     top_k;         /* < 0: default */
  double  top_p;         /* < 0: default */
  double  min_p;         /* < 0: default */
  guint   max_tokens;    /* 0: until end of turn or context */
  guint64 seed;
} KestrelSamplingSettings;

void kestrel_sampling_settings_init (KestrelSamplingSettings *settings);

/* Statistics of a finished generation. */
typedef struct
{
  guint  prompt_tokens;
  guint  cached_tokens;
  guint  generated_tokens;
  double time_to_first_token;   /* seconds */
  double tokens_per_second;     /* decode rate */
  guint  dropped_turns;         /* oldest turns dropped to fit the context */
} KestrelGenerationStats;

G_END_DECLS
