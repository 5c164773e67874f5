# mqtt/: meshscope-mqtt, the bridge from MeshCore observers' MQTT feeds to the
# worker's ingest socket, and meshscope-mqtt-demo, the demo publisher. The
# pure parts (packet decoding, message parsing, config) are a library so the
# unit suites link the same code.
noinst_LIBRARIES += mqtt/libmqtt.a
mqtt_libmqtt_a_SOURCES = \
	mqtt/packet_hash.c mqtt/packet_hash.h \
	mqtt/message.c mqtt/message.h \
	mqtt/mqtt_config.c mqtt/mqtt_config.h
mqtt_libmqtt_a_CFLAGS = $(AM_CFLAGS) $(NETTLE_CFLAGS)

bin_PROGRAMS += mqtt/meshscope-mqtt
mqtt_meshscope_mqtt_SOURCES = \
	mqtt/bridge.h \
	mqtt/main.c \
	mqtt/queue.c \
	mqtt/sink.c \
	mqtt/source.c \
	mqtt/liveness.c
mqtt_meshscope_mqtt_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
mqtt_meshscope_mqtt_LDADD = mqtt/libmqtt.a common/libmeshscope.a \
	$(MOSQUITTO_LIBS) $(NETTLE_LIBS) $(JSONC_LIBS) -lm

bin_PROGRAMS += mqtt/meshscope-mqtt-demo
mqtt_meshscope_mqtt_demo_SOURCES = mqtt/demo.c
mqtt_meshscope_mqtt_demo_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
mqtt_meshscope_mqtt_demo_LDADD = mqtt/libmqtt.a common/libmeshscope.a \
	$(MOSQUITTO_LIBS) $(NETTLE_LIBS) $(JSONC_LIBS) -lm

# Its documentation and its benchmark (bench/run --mqtt).
EXTRA_DIST += docs/mqtt.md bench/mqtt.mjs
