#include "deepgen/nn/conv.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "deepgen/core/error.h"

namespace deepgen::nn {
namespace {

TEST(Conv, EncoderAndDecoderMapBetweenImagesAndVectors) {
  torch::manual_seed(1);
  const ConvOptions o({3, 28, 28}, 10);
  ConvEncoder enc(o);
  ConvDecoder dec(o);
  const at::Tensor x = torch::randn({5, 3, 28, 28});
  EXPECT_EQ(enc->forward(x).sizes(), (at::IntArrayRef{5, 10}));
  EXPECT_EQ(dec->forward(torch::randn({5, 10})).sizes(), (at::IntArrayRef{5, 3, 28, 28}));
}

TEST(Conv, StagesHalveTheResolution) {
  // Three stages on 16x16: the smallest map is 2x2 with the last stage's 12 channels, so the
  // encoder's head has 12·2·2 inputs and the decoder's head as many outputs.
  const ConvOptions o = ConvOptions({1, 16, 16}, 4).channels({4, 8, 12});
  ConvEncoder enc(o);
  ConvDecoder dec(o);
  EXPECT_EQ(enc->named_parameters()["head.weight"].sizes(), (at::IntArrayRef{4, 48}));
  EXPECT_EQ(dec->named_parameters()["head.weight"].sizes(), (at::IntArrayRef{48, 4}));
  EXPECT_EQ(dec->forward(torch::randn({2, 4})).sizes(), (at::IntArrayRef{2, 1, 16, 16}));
}

TEST(Conv, GradientsReachEveryParameter) {
  const ConvOptions o({1, 8, 8}, 3);
  ConvEncoder enc(o);
  ConvDecoder dec(o);
  dec->forward(enc->forward(torch::randn({2, 1, 8, 8}))).pow(2).sum().backward();
  for (auto* m :
       {static_cast<torch::nn::Module*>(enc.get()), static_cast<torch::nn::Module*>(dec.get())})
    for (const auto& p : m->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
    }
}

TEST(Conv, BadShapesAreErrorsNamingTheFix) {
  try {
    ConvEncoder enc(ConvOptions({1, 30, 30}, 4));
    FAIL() << "30x30 cannot be halved twice";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiples of 4"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ConvDecoder(ConvOptions({28, 28}, 4)), Error);
  EXPECT_THROW(ConvEncoder(ConvOptions({1, 8, 8}, 4).channels({})), Error);
  EXPECT_THROW(ConvEncoder(ConvOptions({1, 8, 8}, 0)), Error);
}

}  // namespace
}  // namespace deepgen::nn
