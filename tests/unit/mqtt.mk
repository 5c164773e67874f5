# Unit suites for mqtt/ (cmocka): packet decoding and hash, message parsing, config.
MQTT_TEST_LIBS = mqtt/libmqtt.a $(TEST_LIBS) $(NETTLE_LIBS) -lm

check_PROGRAMS += tests/unit/test_mqtt_packet
tests_unit_test_mqtt_packet_SOURCES = tests/unit/test_mqtt_packet.c
tests_unit_test_mqtt_packet_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mqtt
tests_unit_test_mqtt_packet_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_mqtt_packet_LDADD = $(MQTT_TEST_LIBS)
TESTS += tests/unit/test_mqtt_packet

check_PROGRAMS += tests/unit/test_mqtt_message
tests_unit_test_mqtt_message_SOURCES = tests/unit/test_mqtt_message.c
tests_unit_test_mqtt_message_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/mqtt
tests_unit_test_mqtt_message_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_mqtt_message_LDADD = $(MQTT_TEST_LIBS)
TESTS += tests/unit/test_mqtt_message
