/*
 * mock_broker.c - host a single-broker librdkafka mock cluster.
 *
 * Usage: mock_broker [topic[:partitions]] ...
 *
 * Prints the bootstrap address ("127.0.0.1:PORT") as the first line on
 * stdout, creates the given topics (default 1 partition, RF 1) and runs
 * until SIGTERM/SIGINT.  Used by tools/capture/capture.sh to record the
 * requests real Kafka clients send (golden captures for Sluice tests).
 *
 * Build (not part of the CMake build on purpose):
 *   gcc -O1 -Wall -o mock_broker tools/capture/mock_broker.c -lrdkafka
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t run = 1;

static void on_signal(int sig) {
        (void)sig;
        run = 0;
}

int main(int argc, char **argv) {
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mcluster;
        int i;

        /* The hosting handle never connects anywhere useful; keep it quiet. */
        if (rd_kafka_conf_set(conf, "bootstrap.servers", "", errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "log_level", "3", errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "conf: %s\n", errstr);
                return 1;
        }

        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "rd_kafka_new: %s\n", errstr);
                return 1;
        }

        mcluster = rd_kafka_mock_cluster_new(rk, 1);
        if (!mcluster) {
                fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
                rd_kafka_destroy(rk);
                return 1;
        }

        for (i = 1; i < argc; i++) {
                char name[256];
                int parts = 1;
                char *colon;
                rd_kafka_resp_err_t err;

                snprintf(name, sizeof(name), "%s", argv[i]);
                if ((colon = strchr(name, ':'))) {
                        *colon = '\0';
                        parts  = atoi(colon + 1);
                        if (parts < 1)
                                parts = 1;
                }
                err = rd_kafka_mock_topic_create(mcluster, name, parts, 1);
                if (err) {
                        fprintf(stderr, "topic_create %s: %s\n", name,
                                rd_kafka_err2str(err));
                        return 1;
                }
        }

        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);

        printf("%s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
        fflush(stdout);

        while (run)
                usleep(100 * 1000);

        rd_kafka_mock_cluster_destroy(mcluster);
        rd_kafka_destroy(rk);
        return 0;
}
