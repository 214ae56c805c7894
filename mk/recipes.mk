# ---------------------------------------------------------------- recipes: real data
# Each experiment of the two sources, from the raw dataset folders to a report. Point the
# variables at your copies, e.g.
#   make recipe-ckplus FER2013=~/data/fer2013 CKPLUS=~/data/CK+ UNLABELLED=~/data/CASIA-WebFace
# Every step is an emocli stage: a rerun skips what is up to date. The flags are those of
# docs/results.md (tests/benchmarks/real_finetune.py and real_gan.py run the same commands).
# Wall times on a 2-core CPU: recipe-fer2013 ~45 min, recipe-ckplus ~100 min (the sum of its
# steps, each timed: FER2013 starts 35 + 37 min, the GAN 22 min), recipe-sfew the same two
# FER2013 starts (shared with recipe-ckplus) + ~45 min (its GAN 39 min at 1 thread), the
# others 5-30 min each.

# FER2013: train/ + test/ image folders, or fer2013.csv; CKPLUS: CK+48 folders, or the
# original cohn-kanade-images/ + Emotion/; SFEW: Train/ (+ Val/) <Emotion>/*.png; AFEW (not
# shipped here): Train/ + Val/ <Emotion>/*.avi; RAVDESS: Actor_NN/*.wav; UNLABELLED: any folder
# of unlabelled faces (CASIA-WebFace, UTKFace ...; UNLABELED, the old spelling, still works).
FER2013   ?= $(DATASETS)/fer2013
CKPLUS    ?= $(DATASETS)/ckplus48
SFEW      ?= $(DATASETS)/sfew2
AFEW      ?= $(DATASETS)/afew
RAVDESS   ?= $(DATASETS)/ravdess_speech_16k
UNLABELLED ?= $(or $(UNLABELED),$(DATASETS)/utkface_unlabeled)
RECIPES_WORK ?= recipes-work
R := $(abspath $(RECIPES_WORK))
RUN := EMOCLI_WORKDIR=$(R) $(EMOCLI)
# fail early, naming the variable to set, when a dataset folder is missing
need = @test -e "$($(1))" || { echo "$@: $(1)=$($(1)) not found; set $(1)=/path/to/your/copy"; exit 2; }

# Faces: pre-cropped sets (FER2013, CK+48, UTKFace) get CLAHE + resize only; wild images
# (SFEW, AFEW frames, the original CK+ frames, CASIA) Haar detection + eye alignment.
PRECROPPED_FACES ?= --size 48 --detector none --no-align
WILD_FACES       ?= --size 48
CKPLUS_FACES     ?= $(PRECROPPED_FACES)
UNLABELLED_FACES ?= $(or $(UNLABELED_FACES),$(PRECROPPED_FACES))
# finetune: emocli's FER2013 recipe (resnet_small from scratch), and the chain onto small sets
FER_FLAGS ?= --config recipes/fer2013.toml
# the bundled face model's (make zoo-face): the same network and optimiser, 60 epochs, the best
# epoch chosen on a 10 % dev hold-out of train/ (no early stop: one-cycle's loss rises mid-run)
FACE_FLAGS ?= --config recipes/face.toml
CHAIN_FLAGS ?= --config recipes/chain.toml
FACE_INIT ?= $(R)/models/fer2013.h5
# pretrain-gan on CK+: a 4-layer dcgan_d with a 3x3 convolution after each strided one, trained
# by finetune on all FER2013 labels at 48 px for 60 epochs (66.65 % on PublicTest; 30 epochs
# underfit at 63.7 %), starts the semi-supervised GAN's discriminator (docs/results.md: 95.53 %)
FER_DCGAN_D_FLAGS ?= --config recipes/fer2013-dcgan_d.toml
GAN_FLAGS ?= --config recipes/gan-ckplus.toml
SFEW_GAN_FLAGS ?= --config recipes/gan-sfew.toml
# what the GAN adds: the same discriminator start fine-tuned on the same labels alone
LABELS_ONLY_FLAGS ?= --config recipes/chain.toml
# audio: log-mel spectrograms, audio_fayek, speaker-independent (RAVDESS actors 17-20 test)
AUDIO_FLAGS ?= --config recipes/audio-fayek.toml
# the bundled voice model's (make zoo-voice): resnet_small 16-32-64-128 on trimmed speech
VOICE_FLAGS ?= --config recipes/voice.toml

.PHONY: recipes recipe-fer2013 recipe-ckplus recipe-sfew recipe-afew recipe-ravdess
.PHONY: recipe-sfew-faces recipe-sfew-folds recipe-sfew-val
.PHONY: recipe-fer2013-faces recipe-fer2013-model recipe-fer2013-dcgan_d
.PHONY: recipe-unlabelled-faces recipe-unlabeled-faces
# the chains start from the FER2013 model unless FACE_INIT names another (or none)
FACE_INIT_STEP := $(if $(filter $(R)/models/fer2013.h5,$(FACE_INIT)),recipe-fer2013-model,)
# the GANs' discriminators (CK+, SFEW), and their labels-only twins, start from the FER2013
# dcgan_d unless GAN_INIT names another dcgan_d model artifact
GAN_INIT ?= $(R)/models/fer2013-dcgan_d.h5
GAN_INIT_STEP := $(if $(filter $(R)/models/fer2013-dcgan_d.h5,$(GAN_INIT)),recipe-fer2013-dcgan_d,)

recipes: recipe-fer2013 recipe-ckplus recipe-sfew recipe-ravdess ## All real-data recipes but AFEW (recipes-work/)

recipe-fer2013-faces: | $(STAMP)
	$(call need,FER2013)
	$(RUN) preprocess-faces $(FER2013) $(PRECROPPED_FACES) -o $(R)/faces/fer2013.h5

recipe-fer2013-model: recipe-fer2013-faces
	$(RUN) finetune $(R)/faces/fer2013.h5 $(FER_FLAGS) -o $(R)/models/fer2013.h5 --predictions $(R)/predictions/fer2013.h5

recipe-fer2013: recipe-fer2013-model ## FER2013: train/ -> test/ (PublicTest), resnet_small
	$(RUN) evaluate $(R)/predictions/fer2013.h5 --split val -o $(R)/reports/fer2013

recipe-fer2013-dcgan_d: recipe-fer2013-faces
	$(RUN) finetune $(R)/faces/fer2013.h5 $(FER_DCGAN_D_FLAGS) -o $(R)/models/fer2013-dcgan_d.h5 \
	  --predictions $(R)/predictions/fer2013-dcgan_d.h5

recipe-unlabelled-faces: | $(STAMP)
	$(call need,UNLABELLED)
	$(RUN) preprocess-faces $(UNLABELLED) $(UNLABELLED_FACES) -o $(R)/faces/unlabelled.h5

recipe-unlabeled-faces: recipe-unlabelled-faces  # the old spelling

recipe-ckplus: $(FACE_INIT_STEP) $(GAN_INIT_STEP) recipe-unlabelled-faces ## CK+ 5-fold by subject: FER2013 -> CK+ chain and the GAN
	$(call need,CKPLUS)
	$(RUN) preprocess-faces $(CKPLUS) $(CKPLUS_FACES) -o $(R)/faces/ckplus.h5
	$(RUN) finetune $(R)/faces/ckplus.h5 --init $(FACE_INIT) $(CHAIN_FLAGS) --folds 5 \
	  --validation none -o $(R)/models/ckplus-chain.h5 --predictions $(R)/predictions/ckplus-chain.h5
	$(RUN) pretrain-gan $(R)/faces/ckplus.h5 -u $(R)/faces/unlabelled.h5 $(GAN_FLAGS) \
	  --init $(GAN_INIT) -o $(R)/models/ckplus-gan.h5 \
	  --predictions-output $(R)/predictions/ckplus-gan.h5
	$(RUN) evaluate $(R)/predictions/ckplus-chain.h5 $(R)/predictions/ckplus-gan.h5 \
	  --split test -o $(R)/reports/ckplus

# SFEW: the 5 dev folds by movie of Train/ (what every choice is made on); when the copy has
# Val/ (the organisers' validation set, the seeds' test), the final models then train on all of
# Train/ and are evaluated on Val/: the seeds' protocol (44.97 % for their GAN)
SFEW_VAL := $(wildcard $(SFEW)/Val)
recipe-sfew: recipe-sfew-folds $(if $(SFEW_VAL),recipe-sfew-val) ## SFEW: 5 folds by movie of Train (+ Train -> Val when Val/ exists): chain, GAN, labels-only

recipe-sfew-faces: | $(STAMP)
	$(call need,SFEW)
	$(RUN) preprocess-faces $(SFEW)/Train $(WILD_FACES) -o $(R)/faces/sfew-train.h5

recipe-sfew-folds: $(FACE_INIT_STEP) $(GAN_INIT_STEP) recipe-unlabelled-faces recipe-sfew-faces
	$(RUN) finetune $(R)/faces/sfew-train.h5 --init $(FACE_INIT) $(CHAIN_FLAGS) --folds 5 \
	  --group-by group --validation none -o $(R)/models/sfew-chain.h5 --predictions $(R)/predictions/sfew-chain.h5
	$(RUN) pretrain-gan $(R)/faces/sfew-train.h5 -u $(R)/faces/unlabelled.h5 $(SFEW_GAN_FLAGS) \
	  --init $(GAN_INIT) -o $(R)/models/sfew-gan.h5 --predictions-output $(R)/predictions/sfew-gan.h5
	$(RUN) finetune $(R)/faces/sfew-train.h5 --init $(GAN_INIT) $(LABELS_ONLY_FLAGS) --folds 5 \
	  --group-by group --validation none -o $(R)/models/sfew-labels-only.h5 \
	  --predictions $(R)/predictions/sfew-labels-only.h5
	$(RUN) evaluate $(R)/predictions/sfew-chain.h5 $(R)/predictions/sfew-gan.h5 \
	  $(R)/predictions/sfew-labels-only.h5 --split test -o $(R)/reports/sfew

# Train -> Val: the same three recipes without folds, each model kept at its last epoch (Val
# chooses nothing), Val predicted by the finished models
recipe-sfew-val: $(FACE_INIT_STEP) $(GAN_INIT_STEP) recipe-unlabelled-faces recipe-sfew-faces
	$(call need,SFEW_VAL)
	$(RUN) preprocess-faces $(SFEW_VAL) $(WILD_FACES) -o $(R)/faces/sfew-val.h5
	$(RUN) finetune $(R)/faces/sfew-train.h5 --init $(FACE_INIT) $(CHAIN_FLAGS) --validation none \
	  --predict-on $(R)/faces/sfew-val.h5 -o $(R)/models/sfew-val-chain.h5 \
	  --predictions $(R)/predictions/sfew-val-chain.h5
	$(RUN) pretrain-gan $(R)/faces/sfew-train.h5 -u $(R)/faces/unlabelled.h5 $(SFEW_GAN_FLAGS) \
	  --init $(GAN_INIT) --folds 0 --last-epoch -o $(R)/models/sfew-val-gan.h5 \
	  --predictions-output $(R)/predictions/sfew-train-gan.h5
	$(RUN) predict $(R)/faces/sfew-val.h5 --face-model $(R)/models/sfew-val-gan.h5 \
	  -o $(R)/predictions/sfew-val-gan.h5
	$(RUN) finetune $(R)/faces/sfew-train.h5 --init $(GAN_INIT) $(LABELS_ONLY_FLAGS) --validation none \
	  --predict-on $(R)/faces/sfew-val.h5 -o $(R)/models/sfew-val-labels-only.h5 \
	  --predictions $(R)/predictions/sfew-val-labels-only.h5
	$(RUN) evaluate $(R)/predictions/sfew-val-chain.h5 $(R)/predictions/sfew-val-gan.h5 \
	  $(R)/predictions/sfew-val-labels-only.h5 --split val -o $(R)/reports/sfew-val

# AFEW's fuser learns from out-of-fold predictions of the train clips (stacking): each base
# model is trained in 5 folds over the train clips; the val clips get the fold models' mean
AFEW_STACKING ?= --folds 5 --stacking mean

recipe-afew: $(FACE_INIT_STEP) | $(STAMP) ## AFEW: SFEW-trained face model on clip frames + audio model, fused with an SVM (FACE_INIT=none: no FER2013 step)
	$(call need,AFEW)
	$(call need,SFEW)
	$(RUN) preprocess-faces $(SFEW) $(WILD_FACES) -o $(R)/faces/sfew.h5
	$(RUN) preprocess-faces $(AFEW) $(WILD_FACES) --fps 5 -o $(R)/faces/afew.h5
	$(RUN) finetune $(R)/faces/sfew.h5 --init $(FACE_INIT) $(CHAIN_FLAGS) $(AFEW_STACKING) \
	  --predict-on $(R)/faces/afew.h5 -o $(R)/models/afew-face.h5 --predictions $(R)/predictions/afew-frames.h5
	$(RUN) fuse $(R)/predictions/afew-frames.h5 --method mean -o $(R)/predictions/afew-video.h5
	$(RUN) extract-audio $(AFEW) -o $(R)/audio/afew.h5
	$(RUN) build-spectrograms $(R)/audio/afew.h5 -o $(R)/spectrograms/afew.h5
	$(RUN) finetune $(R)/spectrograms/afew.h5 $(AUDIO_FLAGS) $(AFEW_STACKING) \
	  -o $(R)/models/afew-audio.h5 --predictions $(R)/predictions/afew-audio.h5
	$(RUN) fuse $(R)/predictions/afew-video.h5 $(R)/predictions/afew-audio.h5 --method svm \
	  -o $(R)/predictions/afew-fused.h5 --model-output $(R)/models/afew-fuser.h5
	$(RUN) evaluate $(R)/predictions/afew-video.h5 $(R)/predictions/afew-audio.h5 \
	  $(R)/predictions/afew-fused.h5 --split val -o $(R)/reports/afew

recipe-ravdess: | $(STAMP) ## RAVDESS speech, actors 01-16 -> 17-20: audio_fayek on log-mel spectrograms
	$(call need,RAVDESS)
	$(RUN) extract-audio $(RAVDESS) -o $(R)/audio/ravdess.h5
	$(RUN) build-spectrograms $(R)/audio/ravdess.h5 --train-subjects 01-16 -o $(R)/spectrograms/ravdess.h5
	$(RUN) finetune $(R)/spectrograms/ravdess.h5 --test-subjects 17-20 --val-fraction 0.125 \
	  $(AUDIO_FLAGS) -o $(R)/models/ravdess-fayek.h5 --predictions $(R)/predictions/ravdess-fayek.h5
	$(RUN) evaluate $(R)/predictions/ravdess-fayek.h5 --split test -o $(R)/reports/ravdess
