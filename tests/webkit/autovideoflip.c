/*
 * Test-only GStreamer plugin: an element named "autovideoflip" (GStreamer 1.24 has one;
 * Debian 12's 1.22 does not), a bin around "videoflip" that forwards "video-direction".
 * WebKitGTK 2.50's MediaRecorder puts autovideoflip in its video branch; without it every
 * video recording comes out empty. Built by tests/webkit/conftest.py with
 *   gcc -shared -fPIC autovideoflip.c $(pkg-config --cflags --libs gstreamer-1.0)
 * and loaded through GST_PLUGIN_PATH. Never shipped with voxpop.
 */
#include <gst/gst.h>

#define PACKAGE "voxpop-test-autovideoflip"

typedef struct {
  GstBin parent;
  GstElement *flip;
} VoxpopAutoVideoFlip;

typedef struct {
  GstBinClass parent_class;
} VoxpopAutoVideoFlipClass;

enum { PROP_0, PROP_VIDEO_DIRECTION };

G_DEFINE_TYPE(VoxpopAutoVideoFlip, voxpop_auto_video_flip, GST_TYPE_BIN)

static void set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec) {
  VoxpopAutoVideoFlip *self = (VoxpopAutoVideoFlip *)object;
  if (id == PROP_VIDEO_DIRECTION) {
    g_object_set_property(G_OBJECT(self->flip), "video-direction", value);
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec) {
  VoxpopAutoVideoFlip *self = (VoxpopAutoVideoFlip *)object;
  if (id == PROP_VIDEO_DIRECTION) {
    g_object_get_property(G_OBJECT(self->flip), "video-direction", value);
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void voxpop_auto_video_flip_class_init(VoxpopAutoVideoFlipClass *klass) {
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstPluginFeature *feature;
  GType method;

  object_class->set_property = set_property;
  object_class->get_property = get_property;

  /* The property has videoflip's own enum type, registered once its plugin is loaded. */
  feature = gst_registry_lookup_feature(gst_registry_get(), "videoflip");
  if (feature) {
    GstPluginFeature *loaded = gst_plugin_feature_load(feature);
    if (loaded) gst_object_unref(loaded);
    gst_object_unref(feature);
  }
  method = g_type_from_name("GstVideoOrientationMethod");
  if (method) {
    g_object_class_install_property(object_class, PROP_VIDEO_DIRECTION,
        g_param_spec_enum("video-direction", "Video direction", "Forwarded to videoflip",
            method, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  } else {
    g_object_class_install_property(object_class, PROP_VIDEO_DIRECTION,
        g_param_spec_int("video-direction", "Video direction", "Forwarded to videoflip",
            0, 9, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  }

  gst_element_class_set_static_metadata(element_class, "Auto video flip (test shim)",
      "Filter/Effect/Video", "videoflip in a bin, for WebKitGTK on GStreamer 1.22",
      "voxpop tests");
  gst_element_class_add_pad_template(element_class,
      gst_pad_template_new("sink", GST_PAD_SINK, GST_PAD_ALWAYS, gst_caps_new_any()));
  gst_element_class_add_pad_template(element_class,
      gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, gst_caps_new_any()));
}

static void voxpop_auto_video_flip_init(VoxpopAutoVideoFlip *self) {
  GstPad *pad;
  self->flip = gst_element_factory_make("videoflip", NULL);
  if (!self->flip) {
    g_warning("autovideoflip shim: no videoflip element (gstreamer1.0-plugins-good)");
    return;
  }
  gst_bin_add(GST_BIN(self), self->flip);
  pad = gst_element_get_static_pad(self->flip, "sink");
  gst_element_add_pad(GST_ELEMENT(self), gst_ghost_pad_new("sink", pad));
  gst_object_unref(pad);
  pad = gst_element_get_static_pad(self->flip, "src");
  gst_element_add_pad(GST_ELEMENT(self), gst_ghost_pad_new("src", pad));
  gst_object_unref(pad);
}

static gboolean plugin_init(GstPlugin *plugin) {
  return gst_element_register(plugin, "autovideoflip", GST_RANK_NONE,
      voxpop_auto_video_flip_get_type());
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, voxpopautovideoflip,
    "autovideoflip for WebKitGTK tests on GStreamer 1.22", plugin_init, "1.0", "LGPL",
    PACKAGE, "https://example.invalid/voxpop")
